// Server memory is bounded in bytes, not only in counts (issue 9, item 3), and a duplicate
// watch_id ends only that watch (item 5). Each behaviour is held on every path it is reachable
// from: WatchStream is bidirectional, so only the HTTP/2 paths carry it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  BridgeService,
  WatchEventType,
  type WatchStreamRequestSchema,
  type WatchStreamResponse,
} from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/cli-options.js";
import type { BridgeServerLogger } from "../src/index.js";
import { startTestServer, type TestServer } from "./support.js";
import { requestFeed } from "./support-request-feed.js";
import { wire } from "./support-values.js";

type StreamRequest = MessageInitShape<typeof WatchStreamRequestSchema>;

// The shared test support of state-bridged lies outside this package's rootDir: it is imported
// by path, with the types this file uses.
interface WirePath {
  readonly name: string;
  readonly direct: boolean;
  createTransport(baseUrl: string, token?: string): Transport;
}
interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}
const supportPath = (file: string) =>
  fileURLToPath(new URL(`../../../packages/state-bridged/test/support/${file}`, import.meta.url));
const { WIRE_PATHS } = (await import(supportPath("wire-paths.ts"))) as {
  readonly WIRE_PATHS: readonly WirePath[];
};
const { startServerProcess } = (await import(supportPath("server-process.ts"))) as {
  startServerProcess(args: readonly string[], env: Readonly<Record<string, string>>): Promise<ServerProcess>;
};

const MIB = 1024 * 1024;
const BIDI_PATHS = WIRE_PATHS.filter((path) => !path.name.includes("http/1.1"));

/** A logger that keeps the warnings, to read what the server held when it cut a stream off. */
function warningsLogger(): BridgeServerLogger & { readonly warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(object) {
      warnings.push(object as Record<string, unknown>);
    },
    error() {},
  };
}

/** Reads a stream to its end. @returns the error it ended with, if any. */
async function drain(iterator: AsyncIterator<unknown>): Promise<ConnectError | undefined> {
  try {
    for (;;) if ((await iterator.next()).done === true) return undefined;
  } catch (error) {
    return ConnectError.from(error);
  }
}

/** A WatchStream whose requests the test sends one by one. */
function openWatchStream(client: ReturnType<typeof createClient<typeof BridgeService>>) {
  const feed = requestFeed<StreamRequest>();
  const responses = client.watchStream(feed.requests, { signal: calls.signal })[Symbol.asyncIterator]();
  return {
    responses,
    send: feed.send,
    /** The next message that is not a heartbeat. */
    async next(): Promise<WatchStreamResponse> {
      for (;;) {
        const result = await responses.next();
        if (result.done === true) throw new Error("the stream ended");
        if (result.value.kind.case !== "heartbeat") return result.value;
      }
    },
  };
}

const create = (watchId: string, sessionId: string, identifiers: string[]): StreamRequest => ({
  kind: { case: "create", value: { watchId, sessionId, identifiers, includeInitial: false } },
});

let test: TestServer | undefined;
/** Ends the test's client calls, so that the server's close need not wait for them. */
let calls = new AbortController();
afterEach(async () => {
  calls.abort();
  calls = new AbortController();
  await test?.close();
  test = undefined;
});

async function setUp(options: Parameters<typeof startTestServer>[0]) {
  const logger = warningsLogger();
  test = await startTestServer({ ...options, logger });
  const writer = test.client();
  await writer.initializeSession({ sessionId: "s" });
  await writer.registerVariable({
    sessionId: "s",
    name: "text",
    type: "string",
    initialValue: wire.string(""),
  });
  return { test, writer, logger };
}

/**
 * Writes 256 KiB strings until the server has released the watcher (it cut the stream off) or
 * 64 were written. @returns how many were written.
 */
async function writeUntilCutOff(current: TestServer, writer: ReturnType<TestServer["client"]>) {
  const big = "v".repeat(256 * 1024);
  for (let written = 1; written <= 64; written += 1) {
    await writer.setVariable({ sessionId: "s", identifier: "text", value: wire.string(`${written}${big}`) });
    if (current.server.store.stats().watchers === 0) return written;
  }
  return 64;
}

describe("watch queues are bounded in bytes (--watch-queue-bytes)", () => {
  // Before the byte limit, a stream held up to 10,000 messages whatever their size: with
  // 1 MB values one stalled watcher held 3 GB. 64 writes of 256 KiB never reached the count.
  it.each(WIRE_PATHS)(
    "a stalled WatchVariables consumer of large values is cut off by bytes with resource_exhausted ($name)",
    async (path) => {
      const { test, writer, logger } = await setUp({ watchQueueBytes: MIB });
      const client = createClient(BridgeService, path.createTransport(test.server.url));
      const watch = client
        .watchVariables({ sessionId: "s", identifiers: ["text"] }, { signal: calls.signal })
        [Symbol.asyncIterator]();
      await watch.next();
      const written = await writeUntilCutOff(test, writer);
      expect(test.server.store.stats().watchers, "the stalled watcher was released").toBe(0);
      expect(written).toBeLessThan(64);
      const [cutOff] = logger.warnings;
      expect(cutOff?.queuedBytes as number).toBeLessThanOrEqual(MIB);
      const error = await drain(watch);
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(error?.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
      expect(error?.rawMessage).toContain(
        `more than ${MIB} bytes were waiting to be sent (--watch-queue-bytes)`,
      );
      expect(error?.rawMessage).toContain("resume from the last revision received");
    },
  );

  it.each(BIDI_PATHS)(
    "a stalled WatchStream consumer of large values is cut off by bytes with resource_exhausted ($name)",
    async (path) => {
      const { test, writer, logger } = await setUp({ watchQueueBytes: MIB });
      const client = createClient(BridgeService, path.createTransport(test.server.url));
      const stream = openWatchStream(client);
      stream.send(create("w", "s", ["text"]));
      expect((await stream.next()).kind.case).toBe("created");
      const written = await writeUntilCutOff(test, writer);
      expect(test.server.store.stats().watchers, "the stalled watcher was released").toBe(0);
      expect(written).toBeLessThan(64);
      expect(logger.warnings[0]?.queuedBytes as number).toBeLessThanOrEqual(MIB);
      const error = await drain(stream.responses);
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(error?.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
      expect(error?.rawMessage).toContain("(--watch-queue-bytes)");
    },
  );
});

describe("WatchStream: a duplicate watch_id ends only that watch", () => {
  // Before, a create reusing a live watch_id ended the whole stream with invalid_value.
  it.each(BIDI_PATHS)(
    "the watch named twice ends with invalid_value; the other watches and the stream go on ($name)",
    async (path) => {
      const { test, writer } = await setUp({});
      const client = createClient(BridgeService, path.createTransport(test.server.url));
      const stream = openWatchStream(client);
      stream.send(create("same", "s", ["text"]));
      stream.send(create("other", "s", ["text"]));
      expect(await stream.next()).toMatchObject({ watchId: "same", kind: { case: "created" } });
      expect(await stream.next()).toMatchObject({ watchId: "other", kind: { case: "created" } });
      stream.send(create("same", "s", ["text"]));
      const ended = await stream.next();
      expect(ended.watchId).toBe("same");
      expect(ended.kind.case === "ended" ? ended.kind.value.error?.code : undefined).toBe("invalid_value");
      expect(test.server.store.stats().watchers).toBe(1);
      await writer.setVariable({ sessionId: "s", identifier: "text", value: wire.string("after") });
      expect(await stream.next()).toMatchObject({ watchId: "other", kind: { case: "events" } });
      stream.send(create("same", "s", ["text"]));
      expect(await stream.next()).toMatchObject({ watchId: "same", kind: { case: "created" } });
    },
  );
});

describe("change history bounded in bytes (--history-bytes)", () => {
  // Before, history kept 1,000 changes whatever their size: a watcher resuming far behind was
  // replayed every one of them.
  it.each(WIRE_PATHS)(
    "a watcher resuming behind the history dropped for its bytes gets resync events ($name)",
    async (path) => {
      const { test, writer } = await setUp({ historyBytes: 64 * 1024 });
      const client = createClient(BridgeService, path.createTransport(test.server.url));
      for (let round = 1; round <= 4; round += 1) {
        const value = wire.string(`${round}`.repeat(16 * 1024));
        await writer.setVariable({ sessionId: "s", identifier: "text", value });
      }
      const watch = client
        .watchVariables({ sessionId: "s", identifiers: ["text"], fromRevision: 1n }, { signal: calls.signal })
        [Symbol.asyncIterator]();
      // The stream opens with `created` (its revision and the ids it follows), then the events.
      let first = await watch.next();
      if (first.done !== true && first.value.kind.case === "created") first = await watch.next();
      const events =
        first.done !== true && first.value.kind.case === "events" ? first.value.kind.value.events : [];
      expect(events.map((event) => event.type)).toEqual([WatchEventType.RESYNC]);
      expect(test.server.store.stats().historyBytes).toBeLessThanOrEqual(64 * 1024);
    },
  );
});

describe("a memory budget for values (--max-memory-bytes)", () => {
  it.each(WIRE_PATHS)(
    "a write past the budget fails with resource_exhausted and changes nothing; a delete gives it back ($name)",
    async (path) => {
      const { test } = await setUp({ maxMemoryBytes: 2 * MIB });
      const client = createClient(BridgeService, path.createTransport(test.server.url));
      const mebibyte = "m".repeat(MIB);
      await client.setVariable({ sessionId: "s", identifier: "text", value: wire.string(mebibyte) });
      await client.initializeSession({ sessionId: "other" });
      let error: ConnectError | undefined;
      try {
        await client.registerVariable({
          sessionId: "other",
          name: "text",
          type: "string",
          initialValue: wire.string(mebibyte),
        });
      } catch (thrown) {
        error = ConnectError.from(thrown);
      }
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(error?.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
      expect(error?.rawMessage).toContain("memory budget");
      expect((await client.listVariables({ sessionId: "other" })).variables).toEqual([]);
      const kept = await client.getVariable({ sessionId: "s", identifier: "text" });
      expect(kept.variable?.version).toBe(1n);
      expect(kept.variable?.value?.kind.value).toBe(mebibyte);
      await client.deleteVariable({ sessionId: "s", identifier: "text" });
      await client.registerVariable({
        sessionId: "other",
        name: "text",
        type: "string",
        initialValue: wire.string(mebibyte),
      });
    },
  );
});

describe("a client writing large strings cannot crash the server", () => {
  // Before, every session kept its last 1,000 values of up to 64 MiB: 8 MB strings written
  // into a few sessions filled a 256 MiB heap and the process died.
  it("8 MB strings into many sessions: writes past the budget are refused, the server stays up", async () => {
    const server = await startServerProcess(["--max-memory-bytes", String(96 * MIB)], {
      NODE_OPTIONS: "--max-old-space-size=256",
    });
    try {
      const client = createClient(BridgeService, createGrpcTransport({ baseUrl: server.url }));
      const big = "b".repeat(8_000_000);
      let refused = 0;
      for (let session = 0; session < 16; session += 1) {
        const sessionId = `big-${session}`;
        await client.initializeSession({ sessionId });
        try {
          await client.registerVariable({
            sessionId,
            name: "text",
            type: "string",
            initialValue: wire.string(""),
          });
          for (let round = 0; round < 4; round += 1) {
            await client.setVariable({ sessionId, identifier: "text", value: wire.string(`${round}${big}`) });
          }
        } catch (thrown) {
          expect(ConnectError.from(thrown).code).toBe(Code.ResourceExhausted);
          refused += 1;
        }
      }
      expect(refused, "sessions whose writes were refused past the budget").toBeGreaterThan(0);
      expect((await client.ping({ message: "alive" })).message).toBe("alive");
      const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
      const residentKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      expect(residentKiB * 1024, "server RSS (the heap is capped at 256 MiB)").toBeLessThan(512 * MIB);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("flags", () => {
  it("--watch-queue-bytes, --history-bytes and --max-memory-bytes reach the server's options", () => {
    const parsed = parseCommandLine(
      ["--watch-queue-bytes", "1000", "--history-bytes", "2000", "--max-memory-bytes", "3000"],
      {},
    );
    expect(parsed).toMatchObject({
      kind: "serve",
      options: { watchQueueBytes: 1000, historyBytes: 2000, maxMemoryBytes: 3000 },
    });
  });
});
