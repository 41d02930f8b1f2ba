import * as http2 from "node:http2";
import { create, equals, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER, encodeEnvelope as envelope } from "@statebridge/grpc-wire";
import {
  BridgeService,
  WatchStreamRequestSchema,
  type WatchStreamResponse,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
  type WatchVariablesResponseSchema,
} from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import {
  createWatchStreamResponseDecoder,
  createWatchVariablesResponseDecoder,
} from "../src/grpc-watch-sources.js";
import {
  createStreamConsumer,
  openGrpcStream,
  type StreamConsumer,
  stateErrorFromConnectError,
} from "../src/index.js";
import { type RawServer, startRawServer } from "./support/raw-server.js";
import { changes } from "./support/scripted-server.js";

let raw: RawServer | undefined;
let consumer: StreamConsumer | undefined;

afterEach(async () => {
  await consumer?.close();
  await raw?.close();
  consumer = undefined;
  raw = undefined;
});

function streamResponse(init: MessageInitShape<typeof WatchStreamResponseSchema>): Buffer {
  return envelope(toBinary(WatchStreamResponseSchema, create(WatchStreamResponseSchema, init)));
}

function heartbeatFor(watchId: string, revision: number): Buffer {
  return streamResponse({ watchId, kind: { case: "heartbeat", value: { revision: BigInt(revision) } } });
}

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Opens a WatchStream on the raw server and collects what comes back. */
function collect(
  server: RawServer,
  { endRequests = true }: { readonly endRequests?: boolean } = {},
): {
  readonly messages: WatchStreamResponse[];
  readonly ended: Promise<ConnectError | undefined>;
} {
  const messages: WatchStreamResponse[] = [];
  const ended = new Promise<ConnectError | undefined>((resolve) => {
    const call = openGrpcStream(
      { sessionManager: server.sessionManager },
      `/${BridgeService.typeName}/WatchStream`,
      WatchStreamResponseSchema,
      { onMessage: (message) => messages.push(message), onEnd: resolve },
    );
    // A multiplexed stream keeps its request side open; a server stream's is ended at once.
    if (endRequests) call.end();
  });
  return { messages, ended };
}

describe("openGrpcStream", () => {
  it("reassembles a message split across DATA frames, header included", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      const bytes = heartbeatFor("w1", 41);
      void (async () => {
        // Three pieces: part of the 5-byte header, the rest of the header with part of the
        // message, then the end of the message.
        for (const [start, end] of [
          [0, 3],
          [3, 8],
          [8, bytes.byteLength],
        ] as const) {
          stream.write(bytes.subarray(start, end));
          await nextTurn();
        }
        stream.end();
      })();
    });
    const { messages, ended } = collect(raw);
    expect(await ended).toBeUndefined();
    expect(
      messages.map((message) => [
        message.watchId,
        message.kind.case,
        message.kind.case === "heartbeat" ? message.kind.value.revision : undefined,
      ]),
    ).toEqual([["w1", "heartbeat", 41n]]);
  });

  it("reads several messages from one DATA frame, the last one spilling into the next", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      const all = Buffer.concat([heartbeatFor("w1", 1), heartbeatFor("w2", 2), heartbeatFor("w3", 3)]);
      void (async () => {
        stream.write(all.subarray(0, all.byteLength - 2));
        await nextTurn();
        stream.end(all.subarray(all.byteLength - 2));
      })();
    });
    const { messages, ended } = collect(raw);
    expect(await ended).toBeUndefined();
    expect(messages.map((message) => message.watchId)).toEqual(["w1", "w2", "w3"]);
  });

  it("reports a trailers-only error as connect would, with the exact code of its trailer", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(
        {
          ...GRPC_HEADERS,
          "grpc-status": String(Code.NotFound),
          "grpc-message": "session s1 expired",
          [ERROR_CODE_TRAILER]: "session_expired",
        },
        { endStream: true },
      );
    });
    const { messages, ended } = collect(raw);
    const error = await ended;
    expect(messages).toEqual([]);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.rawMessage).toBe("session s1 expired");
    const stateError = stateErrorFromConnectError(error);
    expect(stateError.code).toBe("session_expired");
  });

  it("reports an error status in the trailers after messages", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () =>
        stream.sendTrailers({ "grpc-status": String(Code.Unauthenticated), "grpc-message": "bad token" }),
      );
      stream.end(heartbeatFor("w1", 7));
    });
    const { messages, ended } = collect(raw);
    const error = await ended;
    expect(messages).toHaveLength(1);
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(stateErrorFromConnectError(error).code).toBe("unauthenticated");
  });

  it("reports a stream reset by the server as connect-node words it", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS);
      stream.write(heartbeatFor("w1", 1), () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    });
    const { messages, ended } = collect(raw, { endRequests: false });
    const error = await ended;
    expect(messages).toHaveLength(1);
    expect(error?.code).toBe(Code.Internal);
    expect(error?.rawMessage).toContain("INTERNAL_ERROR");
    expect(stateErrorFromConnectError(error).code).toBe("unavailable");
  });

  it("reports a message cut short by the end of the stream", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      const bytes = heartbeatFor("w1", 1);
      stream.end(bytes.subarray(0, bytes.byteLength - 1));
    });
    const { ended } = collect(raw);
    const error = await ended;
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toContain("incomplete envelope");
  });

  it("cancel() resets the stream: the server sees it end and onEnd is never called", async () => {
    let serverSaw: Promise<number> | undefined;
    raw = await startRawServer((stream) => {
      serverSaw = new Promise((resolve) => stream.on("close", () => resolve(stream.rstCode)));
      stream.respond(GRPC_HEADERS);
      stream.write(heartbeatFor("w1", 1));
    });
    let ends = 0;
    const received: WatchStreamResponse[] = [];
    const call = openGrpcStream(
      { sessionManager: raw.sessionManager },
      `/${BridgeService.typeName}/WatchStream`,
      WatchStreamResponseSchema,
      {
        onMessage: (message) => received.push(message),
        onEnd: () => ends++,
      },
    );
    while (received.length === 0) await nextTurn();
    call.cancel();
    expect(await serverSaw).toBe(http2.constants.NGHTTP2_CANCEL);
    await nextTurn();
    expect(ends).toBe(0);
  });
});

describe("direct gRPC watch sources", () => {
  it("a consumer needs a client, a connection or a source", () => {
    expect(() => createStreamConsumer({ sessionId: "s1" })).toThrow(TypeError);
  });

  it("a per-watch stream reset by the server is reopened from the last revision, nothing lost or repeated", async () => {
    const requests: { fromRevision: bigint | undefined; includeInitial: boolean }[] = [];
    raw = await startRawServer((stream, call) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      call.onMessage((bytes) => {
        const request = fromBinary(WatchVariablesRequestSchema, bytes);
        requests.push({ fromRevision: request.fromRevision, includeInitial: request.includeInitial });
        const response = (init: MessageInitShape<typeof WatchVariablesResponseSchema>) =>
          envelope(
            toBinary(
              BridgeService.method.watchVariables.output,
              create(BridgeService.method.watchVariables.output, init),
            ),
          );
        if (call.number === 1) {
          stream.write(Buffer.concat([response(changes(1, ["a", 1])), response(changes(2, ["a", 2]))]), () =>
            stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
          );
        } else {
          // The resumed stream repeats revision 2, as a server may; the consumer drops it.
          stream.write(Buffer.concat([response(changes(2, ["a", 2])), response(changes(3, ["a", 3]))]));
        }
      });
    });
    const { sessionManager } = raw;
    consumer = createStreamConsumer({
      connection: { sessionManager },
      sessionId: "s1",
      streams: "per-watch",
      reconnect: { baseDelayMs: 5, maxDelayMs: 20, maxFailures: 4 },
    });
    const seen: WatchEvent[] = [];
    const handle = await consumer.watch(["a"], (event) => {
      seen.push(event);
    });
    while (seen.length < 3) await nextTurn();
    expect(seen.map((event) => [event.revision, event.newValue])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(requests).toEqual([
      { fromRevision: undefined, includeInitial: false },
      { fromRevision: 2n, includeInitial: false },
    ]);
    expect(handle.info()).toMatchObject({ reconnects: 1, duplicates: 1, received: 3 });
  });

  it("a multiplexed stream hands every watch the events of a shared revision as objects of its own", async () => {
    raw = await startRawServer((stream, call) => {
      stream.respond(GRPC_HEADERS);
      const created: string[] = [];
      call.onMessage((bytes) => {
        const request = fromBinary(WatchStreamRequestSchema, bytes);
        if (request.kind.case !== "create") return;
        const { watchId } = request.kind.value;
        created.push(watchId);
        stream.write(streamResponse({ watchId, kind: { case: "created", value: { revision: 0n } } }));
        if (created.length < 2) return;
        // One revision fanned out: the same encoded events behind each watch id.
        const events = changes(1, ["a", 0.5]).kind;
        stream.write(
          Buffer.concat(created.map((id) => streamResponse({ watchId: id, kind: events as never }))),
        );
      });
    });
    const { sessionManager } = raw;
    consumer = createStreamConsumer({
      connection: { sessionManager },
      sessionId: "s1",
      streams: "multiplexed",
    });
    const first: WatchEvent[] = [];
    const second: WatchEvent[] = [];
    await consumer.watch(["a"], (event) => {
      first.push(event);
      // A watcher that scribbles on its event must not change what another watcher sees.
      (event as { name: string }).name = "scribbled";
    });
    await consumer.watch(["a"], (event) => {
      second.push(event);
    });
    while (first.length + second.length < 2) await nextTurn();
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    expect(second[0]).toMatchObject({ name: "a", newValue: 0.5, revision: 1, type: "value_change" });
  });

  it("the decoder of a multiplexed stream shares the events of equal bytes and reads every other layout in full", () => {
    const decode = createWatchStreamResponseDecoder();
    const events = changes(4, ["a", 1.5]).kind as never;
    const messages: MessageInitShape<typeof WatchStreamResponseSchema>[] = [
      { watchId: "w1", kind: events },
      { watchId: "w2", kind: events },
      { kind: events },
      { watchId: "w3", kind: { case: "heartbeat", value: { revision: 4n } } },
      { watchId: "w4", kind: { case: "ended", value: {} } },
      { watchId: "w5", kind: changes(5, ["a", 2]).kind as never },
      { watchId: "w6", kind: events, alsoWatchIds: ["w7", "é".repeat(70), ""] },
      { kind: events, alsoWatchIds: ["w8"] },
      { watchId: "w9", kind: { case: "heartbeat", value: { revision: 4n } }, alsoWatchIds: ["w10"] },
    ];
    const decoded = messages.map((init) => {
      const bytes = toBinary(WatchStreamResponseSchema, create(WatchStreamResponseSchema, init));
      return decode(bytes);
    });
    for (const [index, init] of messages.entries()) {
      expect(
        equals(
          WatchStreamResponseSchema,
          decoded[index] as WatchStreamResponse,
          create(WatchStreamResponseSchema, init),
        ),
      ).toBe(true);
    }
    // The same revision behind three watch ids: decoded once.
    expect(decoded[1]?.kind.value).toBe(decoded[0]?.kind.value);
    expect(decoded[2]?.kind.value).toBe(decoded[0]?.kind.value);
    expect(decoded[5]?.kind.value).not.toBe(decoded[0]?.kind.value);
    // One message naming several watches: its events are still those of the earlier equal bytes.
    expect(decoded[6]?.kind.value).not.toBe(decoded[5]?.kind.value);
    expect(decoded[7]?.kind.value).toBe(decoded[6]?.kind.value);
  });

  it("the decoder of a multiplexed stream reads a shared message followed by another field in full", () => {
    const decode = createWatchStreamResponseDecoder();
    const events = changes(4, ["a", 1.5]).kind as never;
    const init = { watchId: "w1", kind: events, alsoWatchIds: ["w2"] };
    const bytes = toBinary(WatchStreamResponseSchema, create(WatchStreamResponseSchema, init));
    // An unknown field 15 (varint 1) after also_watch_ids: not the fast layout.
    const withUnknown = new Uint8Array([...bytes, (15 << 3) | 0, 1]);
    const decoded = decode(withUnknown);
    expect(decoded.alsoWatchIds).toEqual(["w2"]);
    expect(decoded.$unknown).toHaveLength(1);
    expect(
      equals(WatchStreamResponseSchema, decoded, fromBinary(WatchStreamResponseSchema, withUnknown)),
    ).toBe(true);
  });

  it("the decoder of per-watch streams shares equal events across streams and reads heartbeats in full", () => {
    const decode = createWatchVariablesResponseDecoder();
    const schema = BridgeService.method.watchVariables.output;
    const messages: MessageInitShape<typeof schema>[] = [
      changes(4, ["a", 1.5]),
      changes(4, ["a", 1.5]),
      { kind: { case: "heartbeat", value: { revision: 4n } } },
      changes(5, ["a", 2]),
    ];
    const decoded = messages.map((init) => decode(toBinary(schema, create(schema, init))));
    for (const [index, init] of messages.entries()) {
      expect(equals(schema, decoded[index] as never, create(schema, init))).toBe(true);
    }
    expect(decoded[1]?.kind.value).toBe(decoded[0]?.kind.value);
    expect(decoded[3]?.kind.value).not.toBe(decoded[0]?.kind.value);
  });
});
