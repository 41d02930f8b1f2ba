// Hostile clients of the direct gRPC path (issue 9): a call that was answered or ended is not
// read further, a client that sends faster than a watch method reads is held back, a consumer
// that never reads is cut off with bounded server memory, and a grpc-timeout past the longest
// Node timer is no deadline.
import * as http2 from "node:http2";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { createDeadlineWatchdog } from "@statebridge/grpc-wire";
import {
  PingRequestSchema,
  WatchStreamRequestSchema,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
} from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import type { UnaryMethods } from "../src/bridge-service.js";
import { createGrpcFastPath } from "../src/grpc-fast-path.js";
import { silentLogger } from "../src/logger.js";
import { createWatchFastPath } from "../src/watch-fast-path.js";
import { startTestServer, type TestServer } from "./support.js";
import { envelope } from "./support-attacks.mjs";
import { wire } from "./support-values.js";

const SERVICE = "/statebridge.v1.BridgeService";
const MiB = 1024 * 1024;

function encoded<Schema extends DescMessage>(schema: Schema, init: MessageInitShape<Schema>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** `count` WatchStream cancels of an unknown watch (which do nothing), as one buffer. */
function cancels(count: number): Buffer {
  const one = envelope(
    encoded(WatchStreamRequestSchema, { kind: { case: "cancel", value: { watchId: "w" } } }),
  );
  return Buffer.concat(Array.from({ length: count }, () => one));
}

/** A raw gRPC stream driven by the test: the response as it arrives, and whether the server reset it. */
interface RawStream {
  readonly stream: http2.ClientHttp2Stream;
  /** Settles with the trailers once the response ended. */
  readonly ended: Promise<Record<string, string>>;
  /** Settles with the stream's reset code once it closed. */
  readonly closed: Promise<number>;
  /** Whether the response carried no `date` header: the direct path sends none, connect's path does. */
  servedDirectly(): boolean;
  /** Response bytes received so far. */
  readonly received: number;
}

function open(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
  options: { readonly read?: boolean } = {},
): RawStream {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
  let responseHeaders: http2.IncomingHttpHeaders = {};
  let trailers: Record<string, string> = {};
  let received = 0;
  stream.on("response", (received) => {
    responseHeaders = received;
  });
  stream.on("trailers", (received) => {
    trailers = Object.fromEntries(Object.entries(received).map(([name, value]) => [name, String(value)]));
  });
  stream.on("data", (chunk: Buffer) => {
    received += chunk.byteLength;
  });
  if (options.read === false) stream.pause();
  stream.on("error", () => {});
  return {
    stream,
    ended: new Promise((resolve) => stream.once("end", () => resolve(trailers))),
    closed: new Promise((resolve) => stream.once("close", () => resolve(stream.rstCode ?? -1))),
    servedDirectly: () => responseHeaders[":status"] !== undefined && responseHeaders.date === undefined,
    get received() {
      return received;
    },
  };
}

/**
 * Keeps writing `bytes` after the call was answered. @returns "reset" if the server closed
 * the stream first, "read" if it took every byte.
 */
async function keepSending(raw: RawStream, bytes: Buffer): Promise<"reset" | "read"> {
  const written = new Promise<"read">((resolve) => raw.stream.write(bytes, () => resolve("read")));
  return Promise.race([written, raw.closed.then(() => "reset" as const)]);
}

describe("the direct gRPC path reads nothing more of a call once it answered it", () => {
  let test: TestServer | undefined;
  let session: http2.ClientHttp2Session | undefined;
  afterEach(async () => {
    session?.destroy();
    await test?.close();
    test = undefined;
  });

  async function setUp(): Promise<http2.ClientHttp2Session> {
    test = await startTestServer({ maxRequestBytes: 1024 });
    session = http2.connect(test.server.url);
    return session;
  }

  it("a unary call is refused from an oversize envelope header alone, and a client still sending is reset", async () => {
    const session = await setUp();
    const raw = open(session, `${SERVICE}/Ping`);
    // Four gigabytes announced, not one byte of them sent.
    raw.stream.write(envelope(new Uint8Array(0), 0, 0xffff_ffff));
    const trailers = await raw.ended;
    expect(raw.servedDirectly()).toBe(true);
    expect(trailers["statebridge-error-code"]).toBe("resource_exhausted");
    expect(decodeURIComponent(trailers["grpc-message"] ?? "")).toContain("4294967295 bytes");
    expect(await keepSending(raw, Buffer.alloc(8 * MiB))).toBe("reset");
    expect(await raw.closed).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });

  it("a WatchStream refused for an undecodable request is reset after its trailers, not read further", async () => {
    const session = await setUp();
    const raw = open(session, `${SERVICE}/WatchStream`);
    raw.stream.write(envelope(new Uint8Array([0x0a, 0xff, 0xff])));
    const trailers = await raw.ended;
    expect(raw.servedDirectly()).toBe(true);
    expect(trailers["grpc-status"]).toBe("13");
    expect(await keepSending(raw, cancels(800_000))).toBe("reset");
    expect(await raw.closed).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });

  it("a WatchStream ended by its grpc-timeout is reset after its trailers, not read further", async () => {
    const session = await setUp();
    const raw = open(session, `${SERVICE}/WatchStream`, { "grpc-timeout": "50m" });
    raw.stream.write(cancels(1));
    // As on connect's path: the deadline aborts the method, which ends the stream with OK.
    const trailers = await raw.ended;
    expect(raw.servedDirectly()).toBe(true);
    expect(trailers["grpc-status"]).toBe("0");
    expect(await keepSending(raw, cancels(800_000))).toBe("reset");
  });
});

describe("a WatchStream whose method does not read its requests", () => {
  it("holds the client back by flow control instead of decoding what it sends, and loses nothing", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A method that stops reading after the first request until released, then counts the rest.
    async function* stalledReader(requests: AsyncIterable<unknown>) {
      const iterator = requests[Symbol.asyncIterator]();
      await iterator.next();
      yield { watchId: "started" };
      await released;
      let count = 1;
      while ((await iterator.next()).done !== true) count++;
      yield { watchId: String(count) };
    }
    const watchdog = createDeadlineWatchdog();
    const fastPath = createGrpcFastPath({
      methods: {} as UnaryMethods,
      streams: createWatchFastPath({
        watchVariables: stalledReader as never,
        watchStream: stalledReader as never,
        maxRequestBytes: MiB,
        watchdog,
        logger: silentLogger,
      }),
      maxRequestBytes: MiB,
      acceptCompression: [],
      compressMinBytes: Number.MAX_SAFE_INTEGER,
      watchdog,
      logger: silentLogger,
    });
    // The bytes of request bodies the server has read: a listener of its own, added first.
    let serverRead = 0;
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      stream.on("data", (chunk: Buffer) => {
        serverRead += chunk.byteLength;
      });
      if (!fastPath.serve(stream, headers)) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const session = http2.connect(
      `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
    );
    try {
      const raw = open(session, `${SERVICE}/WatchStream`);
      const messages: string[] = [];
      let frame = Buffer.alloc(0);
      raw.stream.on("data", (chunk: Buffer) => {
        frame = Buffer.concat([frame, chunk]);
        while (frame.byteLength >= 5 && frame.byteLength >= 5 + frame.readUInt32BE(1)) {
          const length = frame.readUInt32BE(1);
          messages.push(fromBinary(WatchStreamResponseSchema, frame.subarray(5, 5 + length)).watchId);
          frame = frame.subarray(5 + length);
        }
      });
      raw.stream.write(cancels(1));
      while (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(messages[0]).toBe("started");
      // 1 MB of requests, far more than the stream's receive window (64 KiB here).
      const flood = 100_000;
      raw.stream.write(cancels(flood));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(serverRead).toBeLessThan(256 * 1024);
      release();
      raw.stream.end();
      await raw.ended;
      expect(serverRead).toBe(10 * (1 + flood));
      expect(messages).toEqual(["started", String(1 + flood)]);
    } finally {
      session.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 20_000);
});

describe("a watch consumer that never reads", () => {
  let test: TestServer | undefined;
  afterEach(async () => {
    await test?.close();
    test = undefined;
  });

  it.each([
    ["the direct path", true],
    ["connect's path", false],
  ])("is cut off with resource_exhausted on %s, having been sent a bounded amount", async (_name, direct) => {
    test = await startTestServer({ grpcFastPath: direct, watchQueueLimit: 100 });
    const client = test.client();
    await client.initializeSession({ sessionId: "s" });
    await client.registerVariable({
      sessionId: "s",
      name: "x",
      type: "string",
      initialValue: wire.string(""),
    });
    // A receive window of 1 KiB per stream, and a consumer that reads nothing until the end.
    const session = http2.connect(test.server.url, { settings: { initialWindowSize: 1024 } });
    try {
      const raw = open(session, `${SERVICE}/WatchVariables`, {}, { read: false });
      raw.stream.end(envelope(encoded(WatchVariablesRequestSchema, { sessionId: "s", identifiers: ["x"] })));
      await new Promise((resolve) => raw.stream.once("response", resolve));
      const value = "v".repeat(16 * 1024);
      const sets = 300; // 4.8 MB of events.
      for (let index = 0; index < sets; index++) {
        await client.setVariable({ sessionId: "s", identifier: "x", value: wire.string(`${index}${value}`) });
      }
      raw.stream.resume();
      const trailers = await raw.ended;
      expect(raw.servedDirectly()).toBe(direct);
      expect(trailers["statebridge-error-code"]).toBe("resource_exhausted");
      expect(raw.received).toBeLessThan(2 * MiB);
    } finally {
      session.destroy();
    }
  });
});

describe("a grpc-timeout longer than any Node timer (99999999H, valid per the gRPC spec)", () => {
  let test: TestServer | undefined;
  afterEach(async () => {
    await test?.close();
    test = undefined;
  });

  async function withWarnings<T>(action: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const result = await action();
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { result, warnings };
    } finally {
      process.off("warning", onWarning);
    }
  }

  it("is no deadline for a unary call: answered directly, without a TimeoutOverflowWarning", async () => {
    test = await startTestServer();
    const session = http2.connect(test.server.url);
    try {
      const { result, warnings } = await withWarnings(async () => {
        const raw = open(session, `${SERVICE}/Ping`, { "grpc-timeout": "99999999H" });
        raw.stream.end(envelope(encoded(PingRequestSchema, { message: "hi" })));
        return { trailers: await raw.ended, direct: raw.servedDirectly() };
      });
      expect(result.trailers["grpc-status"]).toBe("0");
      expect(result.direct).toBe(true);
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    } finally {
      session.destroy();
    }
  });

  it("is no deadline for a WatchStream: served directly, it stays open, without a TimeoutOverflowWarning", async () => {
    test = await startTestServer({ heartbeatIntervalMs: 20 });
    const session = http2.connect(test.server.url);
    try {
      const { result, warnings } = await withWarnings(async () => {
        const raw = open(session, `${SERVICE}/WatchStream`, { "grpc-timeout": "99999999H" });
        // Stream-wide heartbeats, one every 20 ms: three of them outlive a deadline of 1 ms.
        let heartbeats = 0;
        const threeHeartbeats = new Promise<void>((resolve) => {
          raw.stream.on("data", () => {
            if (++heartbeats === 3) resolve();
          });
        });
        let ended = false;
        void raw.ended.then(() => {
          ended = true;
        });
        await threeHeartbeats;
        return { ended, direct: raw.servedDirectly() };
      });
      expect(result.ended).toBe(false);
      expect(result.direct).toBe(true);
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    } finally {
      session.destroy();
    }
  });
});
