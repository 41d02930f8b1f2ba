import { StateError, type WatchEvent } from "@statebridge/state-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore, type WatchEventBatch } from "../src/index.js";
import { recordingListener } from "./recording-listener.js";

let store: SessionStore;

beforeEach(() => {
  store = createSessionStore();
  store.initializeSession("s");
  store.register("s", "a", "integer", 0);
  store.register("s", "b", "integer", 0);
  store.register("s", "c", "integer", 0);
});

afterEach(() => store.close());

function errorOf(action: () => unknown): StateError {
  try {
    action();
  } catch (error) {
    if (error instanceof StateError) return error;
    throw error;
  }
  throw new Error("expected the action to throw");
}

function summary(batches: readonly WatchEventBatch[]): string[] {
  return batches.map(
    (batch) =>
      `${batch.revision}: ${batch.events
        .map((event: WatchEvent) => `${event.type} ${event.identifier}=${String(event.newValue)}`)
        .join(", ")}`,
  );
}

describe("watch: arguments", () => {
  it("every identifier must exist (not_found) and the list must not be empty (invalid_value)", () => {
    expect(errorOf(() => store.watch("s", ["a", "missing"], recordingListener())).code).toBe("not_found");
    expect(errorOf(() => store.watch("s", [], recordingListener())).code).toBe("invalid_value");
    expect(store.stats().watchers).toBe(0);
  });

  it("fromRevision must be a non-negative integer", () => {
    for (const fromRevision of [-1, 1.5, Number.NaN, "2" as unknown as number]) {
      expect(errorOf(() => store.watch("s", ["a"], recordingListener(), { fromRevision })).code).toBe(
        "invalid_value",
      );
    }
    expect(store.stats().watchers).toBe(0);
    expect(store.watch("s", ["a"], recordingListener(), { fromRevision: 3 }).startRevision).toBe(3);
  });

  it("maxWatchersPerSession refuses another watch with resource_exhausted", () => {
    const limited = createSessionStore({ maxWatchersPerSession: 2 });
    limited.initializeSession("s");
    limited.register("s", "a", "integer", 0);
    const first = limited.watch("s", ["a"], recordingListener());
    limited.watch("s", ["a"], recordingListener());
    expect(errorOf(() => limited.watch("s", ["a"], recordingListener())).code).toBe("resource_exhausted");
    first.close();
    limited.watch("s", ["a"], recordingListener());
    expect(limited.stats().watchers).toBe(2);
    limited.close();
  });
});

describe("watch: live events", () => {
  it("each committed change to a watched variable arrives as one batch, named as the watcher named it", () => {
    const listener = recordingListener();
    const idOfB = store.getVariable("s", "b").id;
    const subscription = store.watch("s", ["a", idOfB], listener);
    expect(subscription.startRevision).toBe(3);
    store.set("s", "a", 1, { source: "python", metadata: { note: "n" } });
    store.set("s", "c", 1);
    store.set("s", "b", 2);
    expect(summary(listener.batches)).toEqual(["4: value_change a=1", `6: value_change ${idOfB}=2`]);
    const event = listener.batches[0]?.events[0];
    expect(event).toMatchObject({
      type: "value_change",
      identifier: "a",
      name: "a",
      variableType: "integer",
      oldValue: 0,
      newValue: 1,
      version: 1,
      revision: 4,
      source: "python",
    });
    expect(event?.metadata.note).toBe("n");
    expect(subscription.currentRevision()).toBe(6);
  });

  it("an atomic batch arrives as the events of one revision, together", () => {
    const listener = recordingListener();
    store.watch("s", ["a", "b"], listener);
    store.updateMany(
      "s",
      new Map([
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ]),
      { atomic: true },
    );
    expect(summary(listener.batches)).toEqual(["4: value_change a=1, value_change b=2"]);
  });

  it("the applied part of a non-atomic batch arrives together too", () => {
    const listener = recordingListener();
    store.watch("s", ["a", "b"], listener);
    expect(() =>
      store.updateMany(
        "s",
        new Map<string, unknown>([
          ["a", 1],
          ["b", "wrong"],
        ]),
      ),
    ).toThrow(/partial_failure/);
    expect(summary(listener.batches)).toEqual(["4: value_change a=1"]);
  });

  it("a deleted variable sends deleted once, then nothing more for it", () => {
    const listener = recordingListener();
    store.watch("s", ["a", "b"], listener);
    store.delete("s", "a", { source: "python" });
    store.register("s", "a", "integer", 9);
    store.set("s", "a", 10);
    store.set("s", "b", 1);
    expect(summary(listener.batches)).toEqual(["4: deleted a=undefined", "7: value_change b=1"]);
    expect(listener.batches[0]?.events[0]).toMatchObject({ oldValue: 0, version: 0, source: "python" });
  });

  it("one change reaches 10,000 watchers of the same variable", () => {
    let received = 0;
    const listener = {
      onEvents: (batch: WatchEventBatch) => {
        received += batch.events.length;
      },
      onEnd: () => {},
    };
    for (let index = 0; index < 10_000; index++) store.watch("s", ["a"], listener);
    store.set("s", "a", 1);
    store.set("s", "b", 1);
    expect(received).toBe(10_000);
  });

  it("a throwing listener does not stop delivery to the others nor undo the change", () => {
    const thrown: unknown[] = [];
    const local = createSessionStore({ onListenerError: (error) => thrown.push(error) });
    local.initializeSession("s");
    local.register("s", "a", "integer", 0);
    local.watch("s", ["a"], {
      onEvents: () => {
        throw new Error("listener failure");
      },
      onEnd: () => {},
    });
    const healthy = recordingListener();
    local.watch("s", ["a"], healthy);
    expect(local.set("s", "a", 1).version).toBe(1);
    expect(healthy.batches).toHaveLength(1);
    expect(thrown).toHaveLength(1);
    local.close();
  });

  it("changes made by a listener while a batch is delivered reach every watcher after that batch", () => {
    const first = recordingListener();
    let reacted = false;
    store.watch("s", ["a"], {
      onEvents: (batch) => {
        first.onEvents(batch);
        if (!reacted) {
          reacted = true;
          store.set("s", "a", 100);
        }
      },
      onEnd: () => {},
    });
    const second = recordingListener();
    store.watch("s", ["a"], second);
    store.set("s", "a", 1);
    expect(summary(second.batches)).toEqual(["4: value_change a=1", "5: value_change a=100"]);
    expect(summary(first.batches)).toEqual(["4: value_change a=1", "5: value_change a=100"]);
  });
});

describe("watch: initial values, resume, resync", () => {
  it("includeInitial delivers initial events at the current revision before watch() returns", () => {
    store.set("s", "a", 5);
    const listener = recordingListener();
    const subscription = store.watch("s", ["a", "b"], listener, { includeInitial: true });
    expect(subscription.startRevision).toBe(4);
    expect(summary(listener.batches)).toEqual(["4: initial a=5, initial b=0"]);
    expect(listener.batches[0]?.events[0]).toMatchObject({ oldValue: undefined, version: 1, revision: 4 });
    store.set("s", "b", 1);
    expect(summary(listener.batches)).toEqual(["4: initial a=5, initial b=0", "5: value_change b=1"]);
  });

  it("the observer is registered before the snapshot: a write during the initial delivery is not lost", () => {
    const listener = recordingListener();
    let wrote = false;
    store.watch(
      "s",
      ["a"],
      {
        onEvents(batch) {
          listener.onEvents(batch);
          if (!wrote) {
            wrote = true;
            store.set("s", "a", 7);
          }
        },
        onEnd: listener.onEnd,
      },
      { includeInitial: true },
    );
    expect(summary(listener.batches)).toEqual(["3: initial a=0", "4: value_change a=7"]);
  });

  it("a watch opened by a listener during delivery does not receive that revision twice", () => {
    const late = recordingListener();
    store.watch("s", ["a"], {
      onEvents: () => {
        if (late.batches.length === 0) store.watch("s", ["a"], late, { includeInitial: true });
      },
      onEnd: () => {},
    });
    store.set("s", "a", 1);
    store.set("s", "a", 2);
    expect(summary(late.batches)).toEqual(["4: initial a=1", "5: value_change a=2"]);
  });

  it("fromRevision replays every later change of the watched variables from history, one batch per revision", () => {
    store.set("s", "a", 1); // 4
    store.set("s", "c", 1); // 5, not watched: skipped
    store.updateMany(
      "s",
      new Map([
        ["a", 2],
        ["b", 2],
      ]),
      { atomic: true },
    ); // 6
    store.register("s", "d", "integer", 0); // 7, no events
    store.delete("s", "c"); // 8
    store.set("s", "b", 3); // 9
    const listener = recordingListener();
    const subscription = store.watch("s", ["a", "b"], listener, { fromRevision: 4, includeInitial: true });
    expect(subscription.startRevision).toBe(4);
    expect(summary(listener.batches)).toEqual([
      "6: value_change a=2, value_change b=2",
      "9: value_change b=3",
    ]);
    store.set("s", "a", 3);
    expect(summary(listener.batches).at(-1)).toBe("10: value_change a=3");
  });

  it("fromRevision equal to the current revision delivers nothing until the next change", () => {
    store.set("s", "a", 1);
    const listener = recordingListener();
    store.watch("s", ["a"], listener, { fromRevision: 4 });
    expect(listener.batches).toEqual([]);
    store.set("s", "a", 2);
    expect(summary(listener.batches)).toEqual(["5: value_change a=2"]);
  });

  it("fromRevision older than the kept history gets resync events with current values, never a gap", () => {
    const small = createSessionStore({ historySize: 2 });
    small.initializeSession("s");
    small.register("s", "a", "integer", 0); // 1
    small.register("s", "b", "integer", 0); // 2
    for (let value = 1; value <= 4; value++) small.set("s", "a", value); // 3..6; history keeps 5, 6
    const resumed = recordingListener();
    small.watch("s", ["a", "b"], resumed, { fromRevision: 4 });
    expect(summary(resumed.batches)).toEqual(["5: value_change a=3", "6: value_change a=4"]);
    const behind = recordingListener();
    const subscription = small.watch("s", ["a", "b"], behind, { fromRevision: 3 });
    expect(subscription.startRevision).toBe(6);
    expect(summary(behind.batches)).toEqual(["6: resync a=4, resync b=0"]);
    expect(behind.batches[0]?.events[0]).toMatchObject({ version: 4, revision: 6, oldValue: undefined });
    small.close();
  });

  it("fromRevision beyond the current revision (a session the watcher no longer knows) resyncs", () => {
    const listener = recordingListener();
    const subscription = store.watch("s", ["a"], listener, { fromRevision: 50 });
    expect(subscription.startRevision).toBe(3);
    expect(summary(listener.batches)).toEqual(["3: resync a=0"]);
    store.set("s", "a", 1);
    expect(summary(listener.batches).at(-1)).toBe("4: value_change a=1");
  });

  it("a resume naming a variable deleted after fromRevision replays its deletion, then watches the rest", () => {
    const idOfA = store.getVariable("s", "a").id;
    store.set("s", "a", 1); // 4
    store.delete("s", "a"); // 5
    store.set("s", "b", 1); // 6
    const byName = recordingListener();
    store.watch("s", ["a", "b"], byName, { fromRevision: 3 });
    expect(summary(byName.batches)).toEqual([
      "4: value_change a=1",
      "5: deleted a=undefined",
      "6: value_change b=1",
    ]);
    const byId = recordingListener();
    store.watch("s", [idOfA], byId, { fromRevision: 4 });
    expect(summary(byId.batches)).toEqual([`5: deleted ${idOfA}=undefined`]);
    store.set("s", "b", 2);
    expect(summary(byName.batches).at(-1)).toBe("7: value_change b=2");
  });

  it("a resume naming a variable whose deletion it has already had watches the others", () => {
    store.delete("s", "a"); // 4
    store.set("s", "b", 1); // 5
    const listener = recordingListener();
    store.watch("s", ["a", "b"], listener, { fromRevision: 4 });
    expect(summary(listener.batches)).toEqual(["5: value_change b=1"]);
  });

  it("a resume where no identifier exists or was deleted since is not_found; a new watch always is", () => {
    store.delete("s", "a"); // 4
    expect(errorOf(() => store.watch("s", ["a"], recordingListener(), { fromRevision: 4 })).code).toBe(
      "not_found",
    );
    expect(errorOf(() => store.watch("s", ["never"], recordingListener(), { fromRevision: 0 })).code).toBe(
      "not_found",
    );
    expect(errorOf(() => store.watch("s", ["a", "b"], recordingListener())).code).toBe("not_found");
    expect(store.stats().watchers).toBe(0);
  });

  it("with historySize 0, any resume below the current revision resyncs", () => {
    const none = createSessionStore({ historySize: 0 });
    none.initializeSession("s");
    none.register("s", "a", "integer", 0);
    none.set("s", "a", 1);
    const listener = recordingListener();
    none.watch("s", ["a"], listener, { fromRevision: 1 });
    expect(summary(listener.batches)).toEqual(["2: resync a=1"]);
    none.close();
  });
});

describe("watch: ending and releasing", () => {
  it("deleting the session ends its watches with session_expired; closing the store with closed", () => {
    const deleted = recordingListener();
    store.watch("s", ["a"], deleted);
    store.initializeSession("t");
    store.register("t", "x", "integer", 0);
    const closing = recordingListener();
    store.watch("t", ["x"], closing);
    store.deleteSession("s");
    expect(deleted.ends.map((error) => error.code)).toEqual(["session_expired"]);
    expect(deleted.ends[0]?.message).toContain('session "s" was deleted');
    expect(closing.ends).toEqual([]);
    store.close();
    expect(closing.ends.map((error) => error.code)).toEqual(["closed"]);
  });

  it("close() is idempotent and stops delivery at once", () => {
    const listener = recordingListener();
    const subscription = store.watch("s", ["a"], listener);
    subscription.close();
    subscription.close();
    store.set("s", "a", 1);
    expect(listener.batches).toEqual([]);
    expect(store.stats().watchers).toBe(0);
  });

  it("a session deleted by a listener during replay stops the replay and ends the watch", () => {
    store.set("s", "a", 1);
    store.set("s", "a", 2);
    const listener = recordingListener();
    store.watch(
      "s",
      ["a"],
      {
        onEvents(batch) {
          listener.onEvents(batch);
          store.deleteSession("s");
        },
        onEnd: listener.onEnd,
      },
      { fromRevision: 3 },
    );
    expect(summary(listener.batches)).toEqual(["4: value_change a=1"]);
    expect(listener.ends.map((error) => error.code)).toEqual(["session_expired"]);
    expect(store.stats().watchers).toBe(0);
  });

  it("a listener closing its own subscription gets nothing more, and the others still do", () => {
    const closing = recordingListener();
    const subscription = store.watch("s", ["a"], {
      onEvents(batch) {
        closing.onEvents(batch);
        subscription.close();
      },
      onEnd: closing.onEnd,
    });
    const other = recordingListener();
    store.watch("s", ["a"], other);
    store.set("s", "a", 1);
    store.set("s", "a", 2);
    expect(summary(closing.batches)).toEqual(["4: value_change a=1"]);
    expect(summary(other.batches)).toEqual(["4: value_change a=1", "5: value_change a=2"]);
    expect(store.stats().watchers).toBe(1);
  });

  it("10,000 open/close cycles leave no watcher behind", () => {
    for (let index = 0; index < 10_000; index++) {
      const subscription = store.watch("s", index % 2 === 0 ? ["a", "b"] : ["c"], recordingListener(), {
        includeInitial: index % 3 === 0,
      });
      if (index % 5 === 0) store.set("s", "a", index);
      subscription.close();
    }
    expect(store.stats().watchers).toBe(0);
    const listener = recordingListener();
    store.watch("s", ["a"], listener);
    store.set("s", "a", -1);
    expect(listener.batches).toHaveLength(1);
    expect(store.stats().watchers).toBe(1);
  });
});
