import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore, type WatchEventBatch } from "../src/index.js";
import { recordingListener, summary } from "../src/testing/index.js";

// What only the in-memory store can show: the objects it holds are shared, frozen and kept
// when untouched, and its deliveries happen inside the call that caused them.

let store: SessionStore;
afterEach(() => store.close());

async function opened(): Promise<SessionStore> {
  store = createSessionStore();
  await store.initializeSession("s");
  return store;
}

describe("in-memory objects", () => {
  it("hands out the frozen Variable it holds, found by name or id", async () => {
    const store = await opened();
    const { variable } = await store.register("s", "x", "embedding", new Float32Array([1, 2]));
    expect(Object.isFrozen(variable)).toBe(true);
    expect(Object.isFrozen(variable.value)).toBe(true);
    expect(await store.getVariable("s", "x")).toBe(variable);
    expect(await store.getVariable("s", variable.id)).toBe(variable);
  });

  it("writing one variable of a 100,000-variable session leaves every other Variable object as it was", async () => {
    const store = await opened();
    for (let index = 0; index < 100_000; index++) await store.register("s", `v${index}`, "integer", index);
    const before = await store.list("s");
    await store.set("s", "v50000", -1);
    await store.updateMany("s", new Map([["v7", -7]]));
    const after = await store.list("s");
    expect(after).toHaveLength(100_000);
    let same = 0;
    for (let index = 0; index < after.length; index++) if (after[index] === before[index]) same++;
    expect(same).toBe(99_998);
    expect(after[50_000]).not.toBe(before[50_000]);
    expect(after[50_000]?.value).toBe(-1);
    expect(before[50_000]?.value).toBe(50_000);
  });
});

describe("in-memory deliveries", () => {
  it("one change reaches 10,000 watchers of the same variable before set() resolves", async () => {
    const store = await opened();
    await store.register("s", "a", "integer", 0);
    await store.register("s", "b", "integer", 0);
    let received = 0;
    const listener = {
      onEvents: (batch: WatchEventBatch) => {
        received += batch.events.length;
      },
      onEnd: () => {},
    };
    for (let index = 0; index < 10_000; index++) await store.watch("s", ["a"], listener);
    await store.set("s", "a", 1);
    await store.set("s", "b", 1);
    expect(received).toBe(10_000);
  });

  it("a session deleted by a listener during replay stops the replay at once", async () => {
    const store = await opened();
    await store.register("s", "a", "integer", 0);
    await store.set("s", "a", 1);
    await store.set("s", "a", 2);
    const listener = recordingListener();
    await store.watch(
      "s",
      ["a"],
      {
        onEvents(batch) {
          listener.onEvents(batch);
          void store.deleteSession("s");
        },
        onEnd: listener.onEnd,
      },
      { fromRevision: 1 },
    );
    expect(summary(listener.batches)).toEqual(["2: value_change a=1"]);
    expect(listener.ends.map((error) => error.code)).toEqual(["session_expired"]);
    expect(store.stats().watchers).toBe(0);
  });
});
