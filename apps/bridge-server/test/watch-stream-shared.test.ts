import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import {
  BridgeService,
  type WatchCreateSchema,
  type WatchStreamRequestSchema,
  type WatchStreamResponse,
} from "@statebridge/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "../src/index.js";
import { initializeWithX } from "./support-connections.js";
import { REDIS_AVAILABLE, REDIS_MISSING, type RedisServer, startRedisServer } from "./support-redis.js";
import { requestFeed } from "./support-request-feed.js";
import { wire } from "./support-values.js";

// WatchCreate.share_events: a change reaching several opted-in watches of one multiplexed
// stream comes as one message naming them all (watch_id + also_watch_ids); watches that did
// not opt in keep one message each. Held on every path that carries a bidirectional stream.

interface WirePath {
  readonly name: string;
  createTransport(baseUrl: string): Parameters<typeof createClient>[1];
}
const { WIRE_PATHS } = (await import(
  fileURLToPath(new URL("../../../packages/state-bridged/test/support/wire-paths.ts", import.meta.url))
)) as { readonly WIRE_PATHS: readonly WirePath[] };
/** HTTP/1.1 carries no bidirectional stream: WatchStream needs HTTP/2. */
const STREAM_PATHS = WIRE_PATHS.filter((path) => !path.name.includes("http/1.1"));

type Request = MessageInitShape<typeof WatchStreamRequestSchema>;
type CreateInit = MessageInitShape<typeof WatchCreateSchema>;

/** A WatchStream driven by the test, and every response read so far. */
function openStream(client: Client<typeof BridgeService>) {
  const feed = requestFeed<Request>();
  const abort = new AbortController();
  const responses = client.watchStream(feed.requests, { signal: abort.signal })[Symbol.asyncIterator]();
  const send = feed.send;
  const all: WatchStreamResponse[] = [];
  return {
    /** Every message read so far, heartbeats left out. */
    all,
    create: (value: CreateInit) => send({ kind: { case: "create", value } }),
    cancel: (watchId: string) => send({ kind: { case: "cancel", value: { watchId } } }),
    /** The messages up to and including the first that `last` accepts, heartbeats left out. */
    async until(last: (message: WatchStreamResponse) => boolean): Promise<WatchStreamResponse[]> {
      const read: WatchStreamResponse[] = [];
      for (;;) {
        const result = await responses.next();
        if (result.done === true) throw new Error("the stream ended");
        if (result.value.kind.case === "heartbeat") continue;
        read.push(result.value);
        all.push(result.value);
        if (last(result.value)) return read;
      }
    },
    close() {
      feed.end();
      abort.abort();
    },
  };
}

const createdOf = (watchId: string) => (message: WatchStreamResponse) =>
  message.watchId === watchId && message.kind.case === "created";
const endedOf = (watchId: string) => (message: WatchStreamResponse) =>
  message.watchId === watchId && message.kind.case === "ended";

/** Each watch's events as it would see them: (revision, variable, new value) per event. */
function perWatch(messages: readonly WatchStreamResponse[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const message of messages) {
    if (message.kind.case !== "events") continue;
    for (const watchId of [message.watchId, ...message.alsoWatchIds]) {
      const list = seen.get(watchId) ?? [];
      for (const event of message.kind.value.events) {
        const value = event.newValue?.kind.value;
        list.push(`${message.kind.value.revision}:${event.identifier}=${String(value)}`);
      }
      seen.set(watchId, list);
    }
  }
  return seen;
}

describe.each(STREAM_PATHS)("WatchStream shared events ($name)", (path) => {
  let server: BridgeServer | undefined;
  let stream: ReturnType<typeof openStream> | undefined;
  afterEach(async () => {
    stream?.close();
    stream = undefined;
    await server?.close();
    server = undefined;
  });

  async function setUp(options: BridgeServerOptions = {}) {
    server = await createBridgeServer({ host: "127.0.0.1", port: 0, ...options });
    const client = createClient(BridgeService, path.createTransport(server.url));
    await client.initializeSession({ sessionId: "s" });
    for (const name of ["x", "y"]) {
      await client.registerVariable({ sessionId: "s", name, type: "integer", initialValue: wire.integer(0) });
    }
    stream = openStream(client);
    return { client, stream };
  }

  /** Creates the watches, waiting for each to be confirmed. */
  async function createAll(watches: readonly CreateInit[]): Promise<void> {
    for (const watch of watches) {
      stream?.create(watch);
      await stream?.until(createdOf(watch.watchId ?? ""));
    }
  }

  it("a change reaching three opted-in watches is one message naming all three", async () => {
    const { client, stream } = await setUp();
    const ids = ["a", "b", "c"];
    await createAll(
      [...ids, "marker"].map((watchId) => ({
        watchId,
        sessionId: "s",
        identifiers: ["x"],
        shareEvents: true,
      })),
    );
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(5) });
    stream.cancel("marker");
    const messages = await stream.until(endedOf("marker"));
    const events = messages.filter((message) => message.kind.case === "events");
    expect(events).toHaveLength(1);
    const [shared] = events as [WatchStreamResponse];
    expect([shared.watchId, ...shared.alsoWatchIds].sort()).toEqual([...ids, "marker"].sort());
    expect(perWatch(messages).get("b")).toEqual(["3:x=5"]);
  });

  it("watches that did not opt in get one message each, naming no other watch", async () => {
    const { client, stream } = await setUp();
    await createAll(["a", "b", "c"].map((watchId) => ({ watchId, sessionId: "s", identifiers: ["x"] })));
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(5) });
    const messages = await stream.until(
      (message) => message.watchId === "c" && message.kind.case === "events",
    );
    const events = messages.filter((message) => message.kind.case === "events");
    expect(events.map((message) => message.watchId).sort()).toEqual(["a", "b", "c"]);
    for (const message of events) expect(message.alsoWatchIds).toEqual([]);
  });

  it("mixed watches on one stream (variables, resumes, opt-in or not) each get exactly their own events", async () => {
    const { client, stream } = await setUp();
    // Registering x and y took revisions 1 and 2.
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(1) }); // revision 3
    await client.setVariable({ sessionId: "s", identifier: "y", value: wire.integer(1) }); // revision 4
    const x = (
      watchId: string,
      shareEvents: boolean,
      more: { fromRevision?: bigint; includeInitial?: boolean; identifiers?: string[] } = {},
    ): CreateInit => ({
      watchId,
      sessionId: "s",
      identifiers: ["x"],
      shareEvents,
      ...more,
    });
    await createAll([
      x("x-shared", true),
      x("x-plain", false),
      x("x-resumed", true, { fromRevision: 2n }),
      x("x-initial", true, { includeInitial: true }),
      x("y-shared", true, { identifiers: ["y"] }),
      x("xy-shared", true, { identifiers: ["x", "y"] }),
      x("marker", false),
    ]);
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(2) }); // revision 5
    await client.setVariables({
      sessionId: "s",
      updates: [
        { identifier: "x", value: wire.integer(3) },
        { identifier: "y", value: wire.integer(3) },
      ],
      atomic: true,
    }); // revision 6
    await client.setVariable({ sessionId: "s", identifier: "y", value: wire.integer(4) }); // revision 7
    stream.cancel("marker");
    const messages = await stream.until(endedOf("marker"));
    const seen = perWatch(stream.all);
    expect(Object.fromEntries(seen)).toEqual({
      "x-shared": ["5:x=2", "6:x=3"],
      "x-plain": ["5:x=2", "6:x=3"],
      "x-resumed": ["3:x=1", "5:x=2", "6:x=3"],
      "x-initial": ["4:x=1", "5:x=2", "6:x=3"],
      "y-shared": ["6:y=3", "7:y=4"],
      "xy-shared": ["5:x=2", "6:x=3", "6:y=3", "7:y=4"],
      marker: ["5:x=2", "6:x=3"],
    });
    // Revision 5 reaches the four opted-in watches of x in one message.
    const revision5 = messages.filter(
      (message) =>
        message.kind.case === "events" &&
        message.kind.value.revision === 5n &&
        message.alsoWatchIds.length > 0,
    );
    expect(revision5).toHaveLength(1);
    expect([revision5[0]?.watchId, ...(revision5[0]?.alsoWatchIds ?? [])].sort()).toEqual(
      ["x-initial", "x-resumed", "x-shared", "xy-shared"].sort(),
    );
  });

  it("a shared message counts once against the queue's message limit", async () => {
    // Twenty watches of one change, unshared, are twenty messages: past a limit of five
    // waiting, the stream is cut off. Shared, they are one message and the stream goes on.
    const { client, stream } = await setUp({ watchQueueLimit: 5 });
    const ids = Array.from({ length: 20 }, (_, index) => `w${index}`);
    await createAll(
      ids.map((watchId) => ({ watchId, sessionId: "s", identifiers: ["x"], shareEvents: true })),
    );
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(9) });
    stream.cancel("w0");
    const messages = await stream.until(endedOf("w0"));
    const seen = perWatch(messages);
    for (const watchId of ids) expect(seen.get(watchId)).toEqual(["3:x=9"]);
    expect(server?.store.stats().watchers).toBe(19);
  });

  it("unshared, the same twenty watches are cut off by that limit (what the test above guards)", async () => {
    const { client, stream } = await setUp({ watchQueueLimit: 5 });
    const ids = Array.from({ length: 20 }, (_, index) => `w${index}`);
    await createAll(ids.map((watchId) => ({ watchId, sessionId: "s", identifiers: ["x"] })));
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(9) });
    await expect(stream.until(() => false)).rejects.toThrow();
    // The cut-off releases the stream's watchers.
    for (let attempt = 0; attempt < 200 && (server?.store.stats().watchers ?? 0) > 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(server?.store.stats().watchers).toBe(0);
  });
});

describe.skipIf(!REDIS_AVAILABLE)(`WatchStream shared events on the Redis store (${REDIS_MISSING})`, () => {
  let redis: RedisServer | undefined;
  let server: BridgeServer | undefined;
  let stream: ReturnType<typeof openStream> | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    stream?.close();
    await server?.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("a change reaching three opted-in watches is one message naming all three", async () => {
    server = await createBridgeServer({ host: "127.0.0.1", port: 0, storeUrl: `${redis?.url}/0` });
    const path = STREAM_PATHS[0] as WirePath;
    const client = createClient(BridgeService, path.createTransport(server.url));
    await initializeWithX(client, "redis-shared");
    stream = openStream(client);
    for (const watchId of ["a", "b", "c", "marker"]) {
      stream.create({ watchId, sessionId: "redis-shared", identifiers: ["x"], shareEvents: true });
      await stream.until(createdOf(watchId));
    }
    await client.setVariable({ sessionId: "redis-shared", identifier: "x", value: wire.integer(5) });
    // Wait for the change before cancelling: the Redis store delivers it asynchronously.
    await stream.until((message) => message.kind.case === "events");
    stream.cancel("marker");
    await stream.until(endedOf("marker"));
    const events = stream.all.filter((message) => message.kind.case === "events");
    expect(events).toHaveLength(1);
    expect([events[0]?.watchId, ...(events[0]?.alsoWatchIds ?? [])].sort()).toEqual([
      "a",
      "b",
      "c",
      "marker",
    ]);
  });
});
