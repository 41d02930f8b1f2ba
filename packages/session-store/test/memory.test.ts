import { isStateError, type StateError } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "../src/index.js";
import { recordingListener } from "../src/testing/index.js";
import { manualClock } from "./manual-clock.js";

// The in-memory store's byte budgets: values against maxMemoryBytes, history against what
// values leave free and historyBytes, as stats() counts them. The store suite holds what every
// store does with historyBytes; the exact counts here are this store's.

const MIB = 1024 * 1024;
let store: SessionStore | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
});

function open(options: SessionStoreOptions): SessionStore {
  store = createSessionStore(options);
  return store;
}

async function errorOf(action: () => unknown): Promise<StateError> {
  try {
    await action();
  } catch (error) {
    if (isStateError(error)) return error;
    throw error;
  }
  throw new Error("expected the action to fail");
}

const text = (length: number, fill = "x") => fill.repeat(length);

describe("change history bounded in bytes (historyBytes)", () => {
  it("drops the oldest changes past historyBytes; a watcher resuming behind them resyncs", async () => {
    // Each change holds its old and new 3,000-byte values and 256 bytes: 6,256 bytes.
    const store = open({ historyBytes: 20_000 });
    await store.initializeSession("s");
    await store.register("s", "text", "string", text(3000, "0"));
    for (let round = 1; round <= 6; round++) await store.set("s", "text", text(3000, String(round)));
    expect(store.stats().historyBytes).toBe(3 * 6256);

    const behind = recordingListener();
    await store.watch("s", ["text"], behind, { fromRevision: 1 });
    expect(behind.batches.map((batch) => batch.events.map((event) => event.type))).toEqual([["resync"]]);
    const within = recordingListener();
    await store.watch("s", ["text"], within, { fromRevision: 4 });
    expect(within.batches.map((batch) => batch.revision)).toEqual([5, 6, 7]);
  });

  it("a client writing 40 MB strings leaves at most historyBytes of history (default 64 MiB)", async () => {
    const store = open({});
    await store.initializeSession("s");
    await store.register("s", "big", "string", "");
    const big = text(40_000_000);
    for (let round = 0; round < 20; round++) await store.set("s", "big", round % 2 === 0 ? big : `${big}!`);
    expect(store.stats().historyBytes).toBeLessThanOrEqual(64 * MIB);
    const watcher = recordingListener();
    await store.watch("s", ["big"], watcher, { fromRevision: 1 });
    expect(watcher.batches[0]?.events[0]?.type).toBe("resync");
  });

  it("a change larger than historyBytes by itself is not kept: resuming before it resyncs", async () => {
    const store = open({ historyBytes: 1000 });
    await store.initializeSession("s");
    await store.register("s", "text", "string", "");
    await store.set("s", "text", "small");
    await store.set("s", "text", text(2000));
    expect(store.stats().historyBytes).toBe(0);
    const watcher = recordingListener();
    await store.watch("s", ["text"], watcher, { fromRevision: 2 });
    expect(watcher.batches[0]?.events[0]?.type).toBe("resync");
  });
});

describe("memory budget for values (maxMemoryBytes)", () => {
  // A variable holds its value's bytes, its name, its metadata's JSON and 256 bytes.
  async function filled(limit = 100_000): Promise<SessionStore> {
    const store = open({ maxMemoryBytes: limit });
    await store.initializeSession("s");
    await store.register("s", "a", "string", text(30_000));
    await store.register("s", "b", "string", text(30_000));
    return store;
  }

  it("counts every value held, with its name and a fixed overhead", async () => {
    const store = await filled();
    expect(store.stats().valueBytes).toBe(2 * (30_000 + 1 + 256));
  });

  it("a set past the budget fails with resource_exhausted and changes nothing", async () => {
    const store = await filled();
    await store.set("s", "b", text(60_000));
    const before = await store.getVariable("s", "a");
    const { revision } = await store.getSession("s");
    const error = await errorOf(() => store.set("s", "a", text(50_000)));
    expect(error.code).toBe("resource_exhausted");
    expect(error.message).toContain("memory budget is 100000 bytes");
    expect(await store.getVariable("s", "a")).toBe(before);
    expect((await store.getSession("s")).revision).toBe(revision);
    expect(store.stats().valueBytes).toBe(30_000 + 60_000 + 2 * 257);
  });

  it("metadata counts too: a write whose metadata would exceed the budget is refused", async () => {
    const store = await filled();
    const error = await errorOf(() => store.set("s", "a", "", { metadata: { note: text(90_000) } }));
    expect(error.code).toBe("resource_exhausted");
    expect((await store.getVariable("s", "a")).metadata).toEqual({});
  });

  it("register and import past the budget are refused; the import creates no session", async () => {
    const store = await filled();
    expect((await errorOf(() => store.register("s", "c", "string", text(50_000)))).code).toBe(
      "resource_exhausted",
    );
    expect((await store.list("s")).map((variable) => variable.name)).toEqual(["a", "b"]);
    const document = await store.exportSession("s");
    expect((await errorOf(() => store.importSession("copy", document))).code).toBe("resource_exhausted");
    expect((await errorOf(() => store.getSession("copy"))).code).toBe("session_expired");
  });

  it("an atomic batch past the budget changes nothing; a non-atomic one applies what fits", async () => {
    const store = await filled();
    const updates: [string, string][] = [
      ["a", text(50_000)],
      ["b", text(50_000)],
    ];
    expect((await errorOf(() => store.updateMany("s", updates, { atomic: true }))).code).toBe(
      "resource_exhausted",
    );
    expect((await store.getVariable("s", "a")).version).toBe(0);
    expect((await store.getVariable("s", "b")).version).toBe(0);
    const partial = await errorOf(() => store.updateMany("s", updates));
    expect(partial.code).toBe("partial_failure");
    expect(partial.failures?.get("b")?.code).toBe("resource_exhausted");
    expect((await store.getVariable("s", "a")).version).toBe(1);
    expect((await store.getVariable("s", "b")).version).toBe(0);
  });

  it("the budget is shared by all sessions, and deletes and ended sessions give it back", async () => {
    const clock = manualClock();
    const store = open({ maxMemoryBytes: 100_000, ttlSeconds: 10, now: clock.now });
    await store.initializeSession("one");
    await store.register("one", "a", "string", text(60_000));
    await store.register("one", "b", "string", "");
    await store.initializeSession("two");
    expect((await errorOf(() => store.register("two", "a", "string", text(60_000)))).code).toBe(
      "resource_exhausted",
    );
    await store.delete("one", "a");
    await store.register("two", "a", "string", text(60_000));
    await store.deleteSession("two");
    expect(store.stats().valueBytes).toBe(257);
    await store.initializeSession("three");
    await store.register("three", "a", "string", text(60_000));
    clock.advance(11_000);
    await store.sweep();
    expect(store.stats().valueBytes).toBe(0);
  });

  it("history yields to values: it is dropped, least recently written session first, to fit the budget", async () => {
    const store = open({ maxMemoryBytes: 100_000 });
    for (const sessionId of ["old", "new"]) {
      await store.initializeSession(sessionId);
      await store.register(sessionId, "text", "string", "");
    }
    for (let round = 1; round <= 3; round++) await store.set("old", "text", text(10_000, String(round)));
    for (let round = 1; round <= 3; round++) await store.set("new", "text", text(10_000, String(round)));
    const { valueBytes, historyBytes } = store.stats();
    expect(valueBytes + historyBytes).toBeLessThanOrEqual(100_000);
    // The oldest changes went first: "old" resyncs from its start, "new" still replays.
    const oldWatcher = recordingListener();
    await store.watch("old", ["text"], oldWatcher, { fromRevision: 1 });
    expect(oldWatcher.batches[0]?.events[0]?.type).toBe("resync");
    const newWatcher = recordingListener();
    await store.watch("new", ["text"], newWatcher, { fromRevision: 2 });
    expect(newWatcher.batches.map((batch) => batch.revision)).toEqual([3, 4]);
    // A value that fits the budget once history is gone is accepted.
    await store.set("new", "text", text(70_000));
    expect(store.stats().historyBytes).toBeLessThanOrEqual(100_000 - store.stats().valueBytes);
  });

  it("refuses a bad maxMemoryBytes or historyBytes with invalid_value", async () => {
    expect((await errorOf(() => createSessionStore({ maxMemoryBytes: 0 }))).code).toBe("invalid_value");
    expect((await errorOf(() => createSessionStore({ historyBytes: -1 }))).code).toBe("invalid_value");
  });
});
