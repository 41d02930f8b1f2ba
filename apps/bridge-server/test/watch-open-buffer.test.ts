import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  BridgeService,
  type WatchStreamRequestSchema,
  type WatchStreamResponse,
  type WatchVariablesResponse,
} from "@statebridge/proto";
import type { SessionStoreOptions } from "@statebridge/session-store";
import { afterEach, describe, expect, it } from "vitest";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import { parseExposition, WIRE_PATHS, type WirePath } from "./metrics-support.js";
import { createLateStore, type LateStore, untilNoWatchers } from "./support-late-store.js";
import { requestFeed } from "./support-request-feed.js";
import { wire } from "./support-values.js";

// Regression tests for the buffer of a watch being opened: the batches a store hands a watch
// before its watch() resolves (a remote store answers after round trips) were held in an
// unbounded array. They now count against the watch queue's limits, and past them the stream
// is cut off as a slow consumer is; the client resumes and loses nothing.

/** The watch queue's byte limit the servers here run with. */
const QUEUE_BYTES = 256 * 1024;
/** A value of about 20 KB: each change's batch counts its old and new value, about 40 KB. */
const bigValue = (index: number) => `${index}:${"x".repeat(20_000)}`;
/** Changes whose batches pass QUEUE_BYTES together (12 × ~40 KB). */
const OVER_BUDGET = 12;
/** Changes whose batches stay well under QUEUE_BYTES (4 × ~40 KB). */
const UNDER_BUDGET = 4;

interface Setup {
  readonly late: LateStore;
  readonly server: BridgeServer;
  /** A client on the path under test. */
  readonly client: Client<typeof BridgeService>;
  /** A client on the direct path, for the writes. */
  readonly writer: Client<typeof BridgeService>;
}

let current: Setup | undefined;
afterEach(async () => {
  current?.late.release();
  await current?.server.close();
  await current?.late.inner.close();
  current = undefined;
});

/** A server on a late store with session "s" holding string variable "a" (revision 1). */
async function setUp(
  path: WirePath,
  options: { queueBytes?: number; store?: SessionStoreOptions } = {},
): Promise<Setup> {
  const late = createLateStore(options.store);
  const server = await createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    store: late.store,
    watchQueueBytes: options.queueBytes ?? QUEUE_BYTES,
    shutdownGraceMs: 200,
  });
  const writer = createClient(BridgeService, (WIRE_PATHS[0] as WirePath).createTransport(server.url));
  const client = createClient(BridgeService, path.createTransport(server.url));
  current = { late, server, client, writer };
  await writer.initializeSession({ sessionId: "s" });
  await writer.registerVariable({ sessionId: "s", name: "a", type: "string", initialValue: wire.string("") });
  return current;
}

/** Sets "a" to `count` big values, one change (revision) each; resolves once all are committed. */
async function writeBig(writer: Client<typeof BridgeService>, count: number, from = 0): Promise<void> {
  for (let index = from; index < from + count; index++) {
    await writer.setVariable({ sessionId: "s", identifier: "a", value: wire.string(bigValue(index)) });
  }
}

async function slowConsumersCounted(server: BridgeServer): Promise<number> {
  return parseExposition(await server.metrics()).get("statebridge_watch_slow_consumers_total") ?? 0;
}

/** What a WatchVariables message says, for comparing sequences ("created@1", "3:2:…"). */
function describeVariablesMessage(message: WatchVariablesResponse): string[] {
  if (message.kind.case === "created") return [`created@${message.kind.value.revision}`];
  if (message.kind.case !== "events") return [];
  return message.kind.value.events.map(
    (event) => `${event.revision}:${String(event.newValue?.kind.value).split(":")[0]}`,
  );
}

/** Reads a stream until `count` items are seen or it ends; returns them and how it ended. */
async function readUntil<T>(
  stream: AsyncIterator<T>,
  describeMessage: (message: T) => string[],
  count: number,
): Promise<{ seen: string[]; error: ConnectError | undefined }> {
  const seen: string[] = [];
  try {
    while (seen.length < count) {
      const result = await stream.next();
      if (result.done === true) break;
      seen.push(...describeMessage(result.value));
    }
  } catch (thrown) {
    return { seen, error: ConnectError.from(thrown) };
  }
  return { seen, error: undefined };
}

function expectSlowConsumerCutOff(error: ConnectError | undefined): void {
  expect(error?.code).toBe(Code.ResourceExhausted);
  expect(error?.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
  expect(error?.rawMessage).toMatch(
    /^resource_exhausted: the watch consumer is too slow: more than 262144 bytes were waiting to be sent \(--watch-queue-bytes\); resume from the last revision received$/,
  );
}

/** The revisions 2… of `count` changes made by writeBig (revision 1 registered "a"). */
const changes = (count: number, first = 2) =>
  Array.from({ length: count }, (_, index) => `${first + index}:${first - 2 + index}`);

describe("WatchVariables: changes that come while the store opens the watch", () => {
  for (const path of WIRE_PATHS) {
    it(`${path.name}: past the queue's byte limit the stream ends with resource_exhausted as for a slow consumer, counted once, and a resume loses nothing`, async () => {
      const { late, server, client, writer } = await setUp(path);
      const before = await slowConsumersCounted(server);
      const stream = client
        .watchVariables({ sessionId: "s", identifiers: ["a"], includeInitial: true })
        [Symbol.asyncIterator]();
      const first = readUntil(stream, describeVariablesMessage, 1);
      await late.watchEntered;
      await writeBig(writer, OVER_BUDGET);
      // Cut off while watch() is still pending: the buffer held no more than the limit.
      expect((await slowConsumersCounted(server)) - before).toBe(1);
      late.release();
      const { seen, error } = await first;
      expect(seen).toEqual([]);
      expectSlowConsumerCutOff(error);
      await untilNoWatchers(late.inner);
      expect(late.inner.stats().watchers).toBe(0);

      // The client had revision 1 (it registered "a"): resuming from it replays every change,
      // a replay being bounded by the history, not by the queue.
      const resumed = client
        .watchVariables({ sessionId: "s", identifiers: ["a"], fromRevision: 1n })
        [Symbol.asyncIterator]();
      const replay = await readUntil(resumed, describeVariablesMessage, 1 + OVER_BUDGET);
      expect(replay.error).toBeUndefined();
      expect(replay.seen).toEqual(["created@1", ...changes(OVER_BUDGET)]);
      await resumed.return?.();
    });

    it(`${path.name}: under the queue's limits every change comes after created and the initial value, in order, once`, async () => {
      const { late, server, client, writer } = await setUp(path);
      const stream = client
        .watchVariables({ sessionId: "s", identifiers: ["a"], includeInitial: true })
        [Symbol.asyncIterator]();
      const read = readUntil(stream, describeVariablesMessage, 2 + UNDER_BUDGET);
      await late.watchEntered;
      await writeBig(writer, UNDER_BUDGET);
      late.release();
      const { seen, error } = await read;
      expect(error).toBeUndefined();
      expect(seen).toEqual(["created@1", "1:", ...changes(UNDER_BUDGET)]);
      // Then live changes follow, and nothing was counted as a cut-off.
      const next = readUntil(stream, describeVariablesMessage, 1);
      await writeBig(writer, 1, UNDER_BUDGET);
      expect((await next).seen).toEqual(changes(1, 2 + UNDER_BUDGET));
      expect(await slowConsumersCounted(server)).toBe(0);
      await stream.return?.();
    });
  }
});

type StreamRequest = MessageInitShape<typeof WatchStreamRequestSchema>;

function describeStreamMessage(message: WatchStreamResponse): string[] {
  if (message.kind.case === "created") return [`${message.watchId} created@${message.kind.value.revision}`];
  if (message.kind.case === "ended") return [`${message.watchId} ended`];
  if (message.kind.case !== "events") return [];
  return message.kind.value.events.map(
    (event) => `${message.watchId} ${event.revision}:${String(event.newValue?.kind.value).split(":")[0]}`,
  );
}

const create = (watchId: string): StreamRequest => ({
  kind: { case: "create", value: { watchId, sessionId: "s", identifiers: ["a"], includeInitial: true } },
});

// A bidirectional stream needs HTTP/2.
const BIDI_PATHS = WIRE_PATHS.filter((path) => !path.name.includes("http/1.1"));

describe("WatchStream: changes that come while the store opens a watch", () => {
  for (const path of BIDI_PATHS) {
    it(`${path.name}: past the queue's byte limit the stream ends with resource_exhausted as for a slow consumer, without waiting for the store, counted once`, async () => {
      const { late, server, client, writer } = await setUp(path);
      const before = await slowConsumersCounted(server);
      const feed = requestFeed<StreamRequest>();
      const stream = client.watchStream(feed.requests)[Symbol.asyncIterator]();
      const read = readUntil(stream, describeStreamMessage, 100);
      feed.send(create("w"));
      await late.watchEntered;
      await writeBig(writer, OVER_BUDGET);
      const { seen, error } = await read;
      expect(seen).toEqual([]);
      expectSlowConsumerCutOff(error);
      expect((await slowConsumersCounted(server)) - before).toBe(1);
      late.release();
      await untilNoWatchers(late.inner);
      expect(late.inner.stats().watchers).toBe(0);
    });

    it(`${path.name}: under the queue's limits every change comes after created and the initial value, in order, once`, async () => {
      const { late, server, client, writer } = await setUp(path);
      const feed = requestFeed<StreamRequest>();
      const stream = client.watchStream(feed.requests)[Symbol.asyncIterator]();
      const read = readUntil(stream, describeStreamMessage, 2 + UNDER_BUDGET);
      feed.send(create("w"));
      await late.watchEntered;
      await writeBig(writer, UNDER_BUDGET);
      late.release();
      const { seen, error } = await read;
      expect(error).toBeUndefined();
      expect(seen).toEqual(["w created@1", "w 1:", ...changes(UNDER_BUDGET).map((change) => `w ${change}`)]);
      expect(await slowConsumersCounted(server)).toBe(0);
      await stream.return?.();
    });
  }
});

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/** Bytes of the heap still reachable after full collections. */
function heapReachable(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

describe("a stream that ends while the store opens its watch", () => {
  for (const path of [WIRE_PATHS[0], WIRE_PATHS[1]] as WirePath[]) {
    it(`${path.name}: WatchVariables holds none of the changes that come after its client is gone`, async () => {
      // A limit the changes stay under and a small history, so that only a buffer would keep them.
      const { late, client, writer } = await setUp(path, {
        queueBytes: 256 * 1024 * 1024,
        store: { historyBytes: 1024 * 1024 },
      });
      const controller = new AbortController();
      const stream = client
        .watchVariables({ sessionId: "s", identifiers: ["a"] }, { signal: controller.signal })
        [Symbol.asyncIterator]();
      const first = stream.next().catch(() => undefined);
      await expectNoneHeldAfterEnd(late, writer, controller, first);
    });

    it(`${path.name}: WatchStream holds none of the changes that come after the stream ended`, async () => {
      const { late, client, writer } = await setUp(path, {
        queueBytes: 256 * 1024 * 1024,
        store: { historyBytes: 1024 * 1024 },
      });
      const controller = new AbortController();
      const feed = requestFeed<StreamRequest>();
      const stream = client.watchStream(feed.requests, { signal: controller.signal })[Symbol.asyncIterator]();
      const first = stream.next().catch(() => undefined);
      feed.send(create("w"));
      await expectNoneHeldAfterEnd(late, writer, controller, first);
    });
  }
});

/**
 * Ends a call whose watch is pending in the store, then writes 24 MB of changes: the server
 * must hold none of them for the ended call, and leave no watcher once the store lets go.
 */
async function expectNoneHeldAfterEnd(
  late: LateStore,
  writer: Client<typeof BridgeService>,
  controller: AbortController,
  first: Promise<unknown>,
): Promise<void> {
  // Values of 1 MB, 24 changes: ~24 MB of batches if they were held (each change's old value
  // is the previous one's new value).
  const megabyte = (index: number) => `${index}:${"y".repeat(1_000_000)}`;
  const HELD_IF_KEPT = 24_000_000;
  await late.watchEntered;
  controller.abort();
  await first;
  // The server learns of the end before the changes come.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const baseline = heapReachable();
  for (let index = 0; index < 24; index++) {
    await writer.setVariable({ sessionId: "s", identifier: "a", value: wire.string(megabyte(index)) });
  }
  expect(heapReachable() - baseline).toBeLessThan(HELD_IF_KEPT / 3);
  late.release();
  await untilNoWatchers(late.inner);
  expect(late.inner.stats().watchers).toBe(0);
}
