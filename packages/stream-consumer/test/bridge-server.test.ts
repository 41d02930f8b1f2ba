import { isStateError, type StateError, type WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer, type StreamConsumer, type StreamConsumerOptions } from "../src/index.js";
import { createSession, startBridge, type TestBridge } from "./support/bridge.js";

const MODES = ["per-watch", "multiplexed"] as const;
const fast = { baseDelayMs: 5, maxDelayMs: 50, maxFailures: 8 };

let bridges: TestBridge[] = [];
let consumers: StreamConsumer[] = [];

afterEach(async () => {
  await Promise.all(consumers.map((consumer) => consumer.close()));
  await Promise.all(bridges.map((bridge) => bridge.close()));
  consumers = [];
  bridges = [];
});

async function bridgeWith(options: Parameters<typeof startBridge>[0] = {}): Promise<TestBridge> {
  const bridge = await startBridge(options);
  bridges.push(bridge);
  return bridge;
}

function consumerOf(
  bridge: TestBridge,
  streams: NonNullable<StreamConsumerOptions["streams"]>,
  sessionId: string,
  options: Partial<StreamConsumerOptions> = {},
): StreamConsumer {
  const consumer = createStreamConsumer({
    client: bridge.client(),
    sessionId,
    streams,
    reconnect: fast,
    heartbeatIntervalMs: 200,
    ...options,
  });
  consumers.push(consumer);
  return consumer;
}

function collect(): { events: WatchEvent[]; watcher: (event: WatchEvent) => void } {
  const events: WatchEvent[] = [];
  return { events, watcher: (event) => void events.push(event) };
}

describe.each(MODES)("stream consumer against a bridge-server (%s)", (mode) => {
  it("delivers sets and atomic batches in revision order, once each, a batch as one revision", async () => {
    const bridge = await bridgeWith();
    const { store } = bridge.server;
    await createSession(bridge.server, "s", ["a", "b", "other"]);
    const consumer = consumerOf(bridge, mode, "s");
    const { events, watcher } = collect();
    await consumer.watch(["a", "b"], watcher);
    const first = await store.set("s", "a", 1, { source: "writer-1" });
    await store.set("s", "other", 5);
    const batch = await store.updateMany(
      "s",
      [
        ["a", 2],
        ["b", 3],
      ],
      { atomic: true },
    );
    await store.delete("s", "b");
    await vi.waitFor(() => expect(events).toHaveLength(4));
    expect(
      events.map((event) => [event.type, event.name, event.oldValue, event.newValue, event.revision]),
    ).toEqual([
      ["value_change", "a", 0, 1, first.revision],
      ["value_change", "a", 1, 2, batch.revision],
      ["value_change", "b", 0, 3, batch.revision],
      ["deleted", "b", 3, undefined, batch.revision + 1],
    ]);
    expect(events[0]?.source).toBe("writer-1");
  });

  it("with includeInitial, sends the snapshot first, then every change after it", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a", "b"]);
    await bridge.server.store.set("s", "b", 7);
    const consumer = consumerOf(bridge, mode, "s");
    const { events, watcher } = collect();
    await consumer.watch(["b", "a"], watcher, { includeInitial: true });
    const change = await bridge.server.store.set("s", "a", 1);
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events.map((event) => [event.type, event.identifier, event.newValue])).toEqual([
      ["initial", "b", 7],
      ["initial", "a", 0],
      ["value_change", "a", 1],
    ]);
    expect(events[0]?.revision).toBe(change.revision - 1);
  });

  it("resumes from a revision in the history, and resyncs from one the history no longer reaches", async () => {
    const bridge = await bridgeWith({ historySize: 3 });
    const { store } = bridge.server;
    await createSession(bridge.server, "s", ["a"]);
    const start = (await store.getSession("s")).revision;
    for (let value = 1; value <= 5; value++) await store.set("s", "a", value);
    const consumer = consumerOf(bridge, mode, "s");
    const replayed = collect();
    await consumer.watch(["a"], replayed.watcher, { fromRevision: start + 3 });
    await vi.waitFor(() => expect(replayed.events.map((event) => event.newValue)).toEqual([4, 5]));
    const resynced = collect();
    await consumer.watch(["a"], resynced.watcher, { fromRevision: start });
    await vi.waitFor(() => expect(resynced.events).toHaveLength(1));
    expect(resynced.events[0]).toMatchObject({ type: "resync", newValue: 5, revision: start + 5 });
  });

  it("refuses an unknown identifier with not_found and an unknown session with session_expired", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a"]);
    const consumer = consumerOf(bridge, mode, "s");
    await expect(consumer.watch(["a", "ghost"], () => {})).rejects.toSatisfy((error) =>
      isStateError(error, "not_found"),
    );
    const elsewhere = consumerOf(bridge, mode, "no-such-session");
    await expect(elsewhere.watch(["a"], () => {})).rejects.toSatisfy((error) =>
      isStateError(error, "session_expired"),
    );
    expect(bridge.server.store.stats().watchers).toBe(0);
  });

  it("ends the watch with session_expired when the session is deleted", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a"]);
    const consumer = consumerOf(bridge, mode, "s");
    const errors: StateError[] = [];
    const handle = await consumer.watch(["a"], () => {}, { onError: (error) => errors.push(error) });
    await bridge.server.store.deleteSession("s");
    const ended = await handle.done;
    expect(isStateError(ended, "session_expired")).toBe(true);
    expect(errors).toHaveLength(1);
    expect(consumer.watchers()).toEqual([]);
  });

  it("close() releases the observer on the server", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a"]);
    const consumer = consumerOf(bridge, mode, "s");
    const handles = await Promise.all(Array.from({ length: 5 }, () => consumer.watch(["a"], () => {})));
    expect(bridge.server.store.stats().watchers).toBe(5);
    await handles[0]?.close();
    await vi.waitFor(() => expect(bridge.server.store.stats().watchers).toBe(4));
    await consumer.close();
    await vi.waitFor(() => expect(bridge.server.store.stats().watchers).toBe(0));
    await vi.waitFor(() => expect(bridge.server.openStreams()).toBe(0));
  });

  it("resumes after a watcher too slow for its queue was cut off, losing and repeating nothing", async () => {
    const bridge = await bridgeWith({ watchQueueLimit: 8, historySize: 10_000 });
    const values = await runSlowWatcher(bridge, mode, 3_000);
    expect(values.events.map((event) => event.newValue)).toEqual(
      Array.from({ length: 3_000 }, (_, index) => index + 1),
    );
    expect(values.events.every((event) => event.type === "value_change")).toBe(true);
    expect(values.reconnects).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("resyncs a watcher cut off for slowness when the history no longer reaches back", async () => {
    const bridge = await bridgeWith({ watchQueueLimit: 8, historySize: 100 });
    const { events, reconnects } = await runSlowWatcher(bridge, mode, 3_000);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    const resync = events.findIndex((event) => event.type === "resync");
    expect(resync).toBeGreaterThan(0);
    // Before the resync, an unbroken run from the start; the resync carries a current value;
    // after it, the rest in order: never a silent gap.
    expect(events.slice(0, resync).map((event) => event.newValue)).toEqual(
      Array.from({ length: resync }, (_, index) => index + 1),
    );
    const after = events.slice(resync).map((event) => event.newValue as number);
    expect(after.at(-1)).toBe(3_000);
    for (let index = 1; index < after.length; index++)
      expect(after[index]).toBe((after[index - 1] as number) + 1);
  }, 30_000);
});

/**
 * Watches `a` with a watcher that blocks on its first event while `count` changes are
 * written, then lets it go and waits for the last value.
 */
async function runSlowWatcher(bridge: TestBridge, mode: (typeof MODES)[number], count: number) {
  await createSession(bridge.server, "s", ["a"]);
  const consumer = consumerOf(bridge, mode, "s", { maxQueuedMessages: 8 });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const events: WatchEvent[] = [];
  const handle = await consumer.watch(["a"], async (event) => {
    events.push(event);
    if (events.length === 1) await released;
  });
  await bridge.server.store.set("s", "a", 1);
  await vi.waitFor(() => expect(events).toHaveLength(1));
  for (let value = 2; value <= count; value++) await bridge.server.store.set("s", "a", value);
  release();
  await vi.waitFor(() => expect(events.at(-1)?.newValue).toBe(count), { timeout: 20_000 });
  return { events, reconnects: handle.info().reconnects };
}

describe("multiplexed stream", () => {
  it("carries many watches over one stream, and ends it a while after the last closes", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a", "b"]);
    const consumer = consumerOf(bridge, "auto", "s");
    const seen = new Map<number, number[]>();
    const handles = await Promise.all(
      Array.from({ length: 200 }, (_, index) =>
        consumer.watch(index % 2 === 0 ? ["a"] : ["a", "b"], (event) => {
          const values = seen.get(index) ?? [];
          values.push(event.newValue as number);
          seen.set(index, values);
        }),
      ),
    );
    expect(bridge.server.openStreams()).toBe(1);
    expect(bridge.server.store.stats().watchers).toBe(200);
    await bridge.server.store.set("s", "a", 1);
    await bridge.server.store.set("s", "b", 2);
    await vi.waitFor(() =>
      expect([...seen.values()].reduce((total, values) => total + values.length, 0)).toBe(300),
    );
    for (const [index, values] of seen) expect(values).toEqual(index % 2 === 0 ? [1] : [1, 2]);
    await Promise.all(handles.map((handle) => handle.close()));
    // The stream lingers a second after its last watch, for the next one.
    await vi.waitFor(() => expect(bridge.server.openStreams()).toBe(0), { timeout: 5_000 });
    expect(bridge.server.store.stats().watchers).toBe(0);
  });

  it("reconnects every watch after a server restart, and reports session_expired for a session that is gone", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["a"]);
    const consumer = consumerOf(bridge, "multiplexed", "s");
    const errors: StateError[] = [];
    const handles = await Promise.all(
      Array.from({ length: 3 }, () =>
        consumer.watch(["a"], () => {}, { onError: (error) => errors.push(error) }),
      ),
    );
    const { port } = bridge.server;
    await bridge.server.close();
    const restarted = await startBridge({ port });
    bridges.push(restarted);
    const ended = await Promise.all(handles.map((handle) => handle.done));
    for (const error of ended) expect(isStateError(error, "session_expired")).toBe(true);
    expect(errors).toHaveLength(3);
  });
});
