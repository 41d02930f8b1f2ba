import { StateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import type { ChangeRecord, VariableChange } from "./change-record.js";
import { createObserverRegistry } from "./observer-registry.js";
import type { WatchEventBatch, WatchListener } from "./types.js";

function change(id: string, newValue: number, kind: VariableChange["kind"] = "value_change"): VariableChange {
  return {
    kind,
    id,
    name: `name-of-${id}`,
    variableType: "integer",
    oldValue: newValue - 1,
    newValue: kind === "deleted" ? undefined : newValue,
    version: newValue,
    source: "test",
    metadata: {},
    timestamp: 1,
    bytes: 100,
  };
}

/** A record of the changes of one revision, with their bytes summed. */
function record(revision: number, changes: VariableChange[]): ChangeRecord {
  return { revision, changes, bytes: changes.reduce((total, each) => total + each.bytes, 0) };
}

function listener(): WatchListener & { batches: WatchEventBatch[]; ended: StateError[] } {
  const batches: WatchEventBatch[] = [];
  const ended: StateError[] = [];
  return { batches, ended, onEvents: (batch) => batches.push(batch), onEnd: (error) => ended.push(error) };
}

describe("createObserverRegistry", () => {
  it("hands a record only to observers of the changed variables, one batch per observer", () => {
    const registry = createObserverRegistry(() => {});
    const both = listener();
    const onlyA = listener();
    const onlyC = listener();
    registry.add(
      new Map([
        ["a", "alpha"],
        ["b", "beta"],
      ]),
      both,
      0,
    );
    registry.add(new Map([["a", "a"]]), onlyA, 0);
    registry.add(new Map([["c", "c"]]), onlyC, 0);
    registry.dispatch(record(1, [change("a", 1), change("b", 1)]));
    expect(both.batches).toHaveLength(1);
    expect(both.batches[0]?.events.map((event) => event.identifier)).toEqual(["alpha", "beta"]);
    expect(onlyA.batches[0]?.events.map((event) => event.identifier)).toEqual(["a"]);
    // Each observer's batch counts the bytes of the changes it carries, no more.
    expect([both.batches[0]?.bytes, onlyA.batches[0]?.bytes]).toEqual([200, 100]);
    expect(onlyC.batches).toEqual([]);
  });

  it("hands one change to every observer naming the variable alike as one shared batch", () => {
    // Guards the fan-out: a bridge-server encodes a batch once for all the watches it reaches.
    const registry = createObserverRegistry(() => {});
    const byName = [listener(), listener(), listener()];
    for (const each of byName) registry.add(new Map([["a", "temperature"]]), each, 0);
    const byId = listener();
    registry.add(new Map([["a", "a"]]), byId, 0);
    registry.dispatch(record(1, [change("a", 1)]));
    registry.dispatch(record(2, [change("a", 2)]));
    for (const revision of [0, 1]) {
      const shared = byName[0]?.batches[revision];
      expect(shared?.events.map((event) => [event.identifier, event.revision])).toEqual([
        ["temperature", revision + 1],
      ]);
      for (const each of byName) expect(each.batches[revision]).toBe(shared);
      expect(byId.batches[revision]).not.toBe(shared);
      expect(byId.batches[revision]?.events.map((event) => event.identifier)).toEqual(["a"]);
    }
  });

  it("skips records an observer already has (at or below deliveredThrough)", () => {
    const registry = createObserverRegistry(() => {});
    const late = listener();
    registry.add(new Map([["a", "a"]]), late, 5);
    registry.dispatch(record(5, [change("a", 5)]));
    registry.dispatch(record(6, [change("a", 6)]));
    expect(late.batches.map((batch) => batch.revision)).toEqual([6]);
  });

  it("a deleted variable leaves its observers' targets and the index", () => {
    const registry = createObserverRegistry(() => {});
    const watcher = listener();
    const observer = registry.add(
      new Map([
        ["a", "a"],
        ["b", "b"],
      ]),
      watcher,
      0,
    );
    registry.dispatch(record(1, [change("a", 1, "deleted")]));
    expect([...observer.targets.keys()]).toEqual(["b"]);
    registry.dispatch(record(2, [change("a", 2)]));
    expect(watcher.batches.map((batch) => batch.events[0]?.type)).toEqual(["deleted"]);
  });

  it("remove() is idempotent and size counts live observers", () => {
    const registry = createObserverRegistry(() => {});
    const first = registry.add(new Map([["a", "a"]]), listener(), 0);
    registry.add(new Map([["a", "a"]]), listener(), 0);
    expect(registry.size).toBe(2);
    expect(registry.remove(first)).toBe(true);
    expect(registry.remove(first)).toBe(false);
    expect(first.closed).toBe(true);
    expect(registry.size).toBe(1);
  });

  it("endAll() calls onEnd once per observer and empties the registry", () => {
    const registry = createObserverRegistry(() => {});
    const watchers = [listener(), listener()];
    for (const watcher of watchers) registry.add(new Map([["a", "a"]]), watcher, 0);
    registry.endAll(new StateError("closed", "closing"));
    expect(watchers.map((watcher) => watcher.ended.map((error) => error.code))).toEqual([
      ["closed"],
      ["closed"],
    ]);
    expect(registry.size).toBe(0);
    registry.dispatch(record(1, [change("a", 1)]));
    expect(watchers[0]?.batches).toEqual([]);
  });

  it("eventsFor() picks the watched variables of a past record, named as the observer named them", () => {
    const registry = createObserverRegistry(() => {});
    const observer = registry.add(new Map([["b", "the-b"]]), listener(), 9);
    const { events, bytes } = registry.eventsFor(
      observer.targets,
      record(3, [change("a", 1), change("b", 2)]),
    );
    expect(bytes).toBe(100);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      identifier: "the-b",
      id: "b",
      revision: 3,
      newValue: 2,
      type: "value_change",
    });
  });

  it("reports a throwing listener and carries on", () => {
    const errors: unknown[] = [];
    const registry = createObserverRegistry((error) => errors.push(error));
    registry.add(
      new Map([["a", "a"]]),
      {
        onEvents: () => {
          throw new Error("boom");
        },
        onEnd: () => {
          throw new Error("boom at end");
        },
      },
      0,
    );
    const healthy = listener();
    registry.add(new Map([["a", "a"]]), healthy, 0);
    registry.dispatch(record(1, [change("a", 1), change("b", 1)]));
    registry.endAll(new StateError("closed", "closing"));
    expect(errors.map((error) => (error as Error).message)).toEqual(["boom", "boom at end"]);
    expect(healthy.batches).toHaveLength(1);
    expect(healthy.ended).toHaveLength(1);
  });
});
