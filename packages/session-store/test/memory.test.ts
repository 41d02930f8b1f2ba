import { StateError } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "../src/index.js";
import { manualClock, recordingListener } from "./recording-listener.js";

const MIB = 1024 * 1024;
let store: SessionStore | undefined;

afterEach(() => {
  store?.close();
  store = undefined;
});

function open(options: SessionStoreOptions): SessionStore {
  store = createSessionStore(options);
  return store;
}

function errorOf(action: () => unknown): StateError {
  try {
    action();
  } catch (error) {
    if (error instanceof StateError) return error;
    throw error;
  }
  throw new Error("expected the action to throw");
}

const text = (length: number, fill = "x") => fill.repeat(length);

describe("change history bounded in bytes (historyBytes)", () => {
  it("drops the oldest changes past historyBytes; a watcher resuming behind them resyncs", () => {
    // Each change holds its old and new 3,000-byte values and 256 bytes: 6,256 bytes.
    const store = open({ historyBytes: 20_000 });
    store.initializeSession("s");
    store.register("s", "text", "string", text(3000, "0"));
    for (let round = 1; round <= 6; round++) store.set("s", "text", text(3000, String(round)));
    expect(store.stats().historyBytes).toBe(3 * 6256);

    const behind = recordingListener();
    store.watch("s", ["text"], behind, { fromRevision: 1 });
    expect(behind.batches.map((batch) => batch.events.map((event) => event.type))).toEqual([["resync"]]);
    const within = recordingListener();
    store.watch("s", ["text"], within, { fromRevision: 4 });
    expect(within.batches.map((batch) => batch.revision)).toEqual([5, 6, 7]);
  });

  it("a client writing 40 MB strings leaves at most historyBytes of history (default 64 MiB)", () => {
    const store = open({});
    store.initializeSession("s");
    store.register("s", "big", "string", "");
    const big = text(40_000_000);
    for (let round = 0; round < 20; round++) store.set("s", "big", round % 2 === 0 ? big : `${big}!`);
    expect(store.stats().historyBytes).toBeLessThanOrEqual(64 * MIB);
    const watcher = recordingListener();
    store.watch("s", ["big"], watcher, { fromRevision: 1 });
    expect(watcher.batches[0]?.events[0]?.type).toBe("resync");
  });

  it("a change larger than historyBytes by itself is not kept: resuming before it resyncs", () => {
    const store = open({ historyBytes: 1000 });
    store.initializeSession("s");
    store.register("s", "text", "string", "");
    store.set("s", "text", "small");
    store.set("s", "text", text(2000));
    expect(store.stats().historyBytes).toBe(0);
    const watcher = recordingListener();
    store.watch("s", ["text"], watcher, { fromRevision: 2 });
    expect(watcher.batches[0]?.events[0]?.type).toBe("resync");
  });
});

describe("memory budget for values (maxMemoryBytes)", () => {
  // A variable holds its value's bytes, its name, its metadata's JSON and 256 bytes.
  function filled(limit = 100_000): SessionStore {
    const store = open({ maxMemoryBytes: limit });
    store.initializeSession("s");
    store.register("s", "a", "string", text(30_000));
    store.register("s", "b", "string", text(30_000));
    return store;
  }

  it("counts every value held, with its name and a fixed overhead", () => {
    const store = filled();
    expect(store.stats().valueBytes).toBe(2 * (30_000 + 1 + 256));
  });

  it("a set past the budget fails with resource_exhausted and changes nothing", () => {
    const store = filled();
    store.set("s", "b", text(60_000));
    const before = store.getVariable("s", "a");
    const { revision } = store.getSession("s");
    const error = errorOf(() => store.set("s", "a", text(50_000)));
    expect(error.code).toBe("resource_exhausted");
    expect(error.message).toContain("memory budget is 100000 bytes");
    expect(store.getVariable("s", "a")).toBe(before);
    expect(store.getSession("s").revision).toBe(revision);
    expect(store.stats().valueBytes).toBe(30_000 + 60_000 + 2 * 257);
  });

  it("metadata counts too: a write whose metadata would exceed the budget is refused", () => {
    const store = filled();
    const error = errorOf(() => store.set("s", "a", "", { metadata: { note: text(90_000) } }));
    expect(error.code).toBe("resource_exhausted");
    expect(store.getVariable("s", "a").metadata).toEqual({});
  });

  it("register and import past the budget are refused; the import creates no session", () => {
    const store = filled();
    expect(errorOf(() => store.register("s", "c", "string", text(50_000))).code).toBe("resource_exhausted");
    expect(store.list("s").map((variable) => variable.name)).toEqual(["a", "b"]);
    const document = store.exportSession("s");
    expect(errorOf(() => store.importSession("copy", document)).code).toBe("resource_exhausted");
    expect(errorOf(() => store.getSession("copy")).code).toBe("session_expired");
  });

  it("an atomic batch past the budget changes nothing; a non-atomic one applies what fits", () => {
    const store = filled();
    const updates: [string, string][] = [
      ["a", text(50_000)],
      ["b", text(50_000)],
    ];
    expect(errorOf(() => store.updateMany("s", updates, { atomic: true })).code).toBe("resource_exhausted");
    expect(store.getVariable("s", "a").version).toBe(0);
    expect(store.getVariable("s", "b").version).toBe(0);
    const partial = errorOf(() => store.updateMany("s", updates));
    expect(partial.code).toBe("partial_failure");
    expect(partial.failures?.get("b")?.code).toBe("resource_exhausted");
    expect(store.getVariable("s", "a").version).toBe(1);
    expect(store.getVariable("s", "b").version).toBe(0);
  });

  it("the budget is shared by all sessions, and deletes and ended sessions give it back", () => {
    const clock = manualClock();
    const store = open({ maxMemoryBytes: 100_000, ttlSeconds: 10, now: clock.now });
    store.initializeSession("one");
    store.register("one", "a", "string", text(60_000));
    store.register("one", "b", "string", "");
    store.initializeSession("two");
    expect(errorOf(() => store.register("two", "a", "string", text(60_000))).code).toBe("resource_exhausted");
    store.delete("one", "a");
    store.register("two", "a", "string", text(60_000));
    store.deleteSession("two");
    expect(store.stats().valueBytes).toBe(257);
    store.initializeSession("three");
    store.register("three", "a", "string", text(60_000));
    clock.advance(11_000);
    store.sweep();
    expect(store.stats().valueBytes).toBe(0);
  });

  it("history yields to values: it is dropped, least recently written session first, to fit the budget", () => {
    const store = open({ maxMemoryBytes: 100_000 });
    for (const sessionId of ["old", "new"]) {
      store.initializeSession(sessionId);
      store.register(sessionId, "text", "string", "");
    }
    for (let round = 1; round <= 3; round++) store.set("old", "text", text(10_000, String(round)));
    for (let round = 1; round <= 3; round++) store.set("new", "text", text(10_000, String(round)));
    const { valueBytes, historyBytes } = store.stats();
    expect(valueBytes + historyBytes).toBeLessThanOrEqual(100_000);
    // The oldest changes went first: "old" resyncs from its start, "new" still replays.
    const oldWatcher = recordingListener();
    store.watch("old", ["text"], oldWatcher, { fromRevision: 1 });
    expect(oldWatcher.batches[0]?.events[0]?.type).toBe("resync");
    const newWatcher = recordingListener();
    store.watch("new", ["text"], newWatcher, { fromRevision: 2 });
    expect(newWatcher.batches.map((batch) => batch.revision)).toEqual([3, 4]);
    // A value that fits the budget once history is gone is accepted.
    store.set("new", "text", text(70_000));
    expect(store.stats().historyBytes).toBeLessThanOrEqual(100_000 - store.stats().valueBytes);
  });

  it("refuses a bad maxMemoryBytes or historyBytes with invalid_value", () => {
    expect(errorOf(() => createSessionStore({ maxMemoryBytes: 0 })).code).toBe("invalid_value");
    expect(errorOf(() => createSessionStore({ historyBytes: -1 })).code).toBe("invalid_value");
  });
});
