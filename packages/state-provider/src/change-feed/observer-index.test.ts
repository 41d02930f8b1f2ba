import { describe, expect, it } from "vitest";
import { createObserverIndex, type ObserverIndex } from "./observer-index.js";

interface Change {
  readonly id: string;
  readonly kind: "value_change" | "deleted";
}

interface Observer {
  readonly name: string;
  readonly targets: Map<string, string>;
}

interface Record {
  readonly revision: number;
  readonly changes: readonly Change[];
}

function createIndex(): ObserverIndex<Observer, Change> {
  return createObserverIndex<Observer, Change>({
    idOf: (change) => change.id,
    deletes: (change) => change.kind === "deleted",
  });
}

function observer(name: string, targets: readonly [id: string, identifier: string][]): Observer {
  return { name, targets: new Map(targets) };
}

function change(id: string, kind: Change["kind"] = "value_change"): Change {
  return { id, kind };
}

/** Dispatches a record and lists what each observer got, as `name@revision: id,id`. */
function dispatched(index: ObserverIndex<Observer, Change>, record: Record): string[] {
  const batches: string[] = [];
  index.dispatch(record, (target, changes, delivered) => {
    batches.push(`${target.name}@${delivered.revision}: ${changes.map((each) => each.id).join(",")}`);
  });
  return batches;
}

describe("createObserverIndex", () => {
  it("hands a record only to observers of the changed variables, one batch per observer", () => {
    const index = createIndex();
    index.add(
      observer("both", [
        ["a", "alpha"],
        ["b", "beta"],
      ]),
    );
    index.add(observer("onlyB", [["b", "b"]]));
    index.add(observer("onlyC", [["c", "c"]]));
    // Batches hold their changes in record order; observers come in the order of their first change.
    expect(dispatched(index, { revision: 1, changes: [change("b"), change("a")] })).toEqual([
      "both@1: b,a",
      "onlyB@1: b",
    ]);
  });

  it("a record of one change hands every observer of its variable the record's own list", () => {
    const index = createIndex();
    index.add(observer("first", [["a", "a"]]));
    index.add(observer("second", [["a", "a"]]));
    const record = { revision: 2, changes: [change("a")] };
    const lists: (readonly Change[])[] = [];
    index.dispatch(record, (_target, changes) => lists.push(changes));
    expect(lists).toEqual([record.changes, record.changes]);
    expect(lists[0]).toBe(record.changes);
  });

  it("a record that changes nothing watched reaches nobody", () => {
    const index = createIndex();
    index.add(observer("a", [["a", "a"]]));
    expect(dispatched(index, { revision: 1, changes: [] })).toEqual([]);
    expect(dispatched(index, { revision: 2, changes: [change("x"), change("y")] })).toEqual([]);
  });

  it("a deleted variable leaves its observers' targets and the index, after its deletion is handed out", () => {
    const index = createIndex();
    const watcher = observer("w", [
      ["a", "a"],
      ["b", "b"],
    ]);
    index.add(watcher);
    expect(dispatched(index, { revision: 1, changes: [change("a", "deleted")] })).toEqual(["w@1: a"]);
    expect([...watcher.targets.keys()]).toEqual(["b"]);
    expect(dispatched(index, { revision: 2, changes: [change("a")] })).toEqual([]);
    expect(dispatched(index, { revision: 3, changes: [change("b")] })).toEqual(["w@3: b"]);
  });

  it("an observer added after a deletion follows a variable that came back under the same id; the old one does not", () => {
    const index = createIndex();
    index.add(observer("old", [["a", "a"]]));
    dispatched(index, { revision: 1, changes: [change("a", "deleted")] });
    index.add(observer("new", [["a", "a"]]));
    expect(dispatched(index, { revision: 2, changes: [change("a")] })).toEqual(["new@2: a"]);
  });

  it("remove() is idempotent and size counts observers, also those whose variables were all deleted", () => {
    const index = createIndex();
    const first = observer("first", [["a", "a"]]);
    const second = observer("second", [["b", "b"]]);
    index.add(first);
    index.add(second);
    dispatched(index, { revision: 1, changes: [change("b", "deleted")] });
    expect(index.size).toBe(2);
    expect(index.remove(first)).toBe(true);
    expect(index.remove(first)).toBe(false);
    expect(index.size).toBe(1);
    expect(dispatched(index, { revision: 2, changes: [change("a")] })).toEqual([]);
    expect(index.remove(second)).toBe(true);
    expect(index.size).toBe(0);
  });

  it("values() and clear() give the observers in the order they were added; clear() empties the index", () => {
    const index = createIndex();
    for (const name of ["x", "y", "z"]) index.add(observer(name, [["a", "a"]]));
    expect([...index.values()].map((each) => each.name)).toEqual(["x", "y", "z"]);
    expect(index.clear().map((each) => each.name)).toEqual(["x", "y", "z"]);
    expect(index.size).toBe(0);
    expect(dispatched(index, { revision: 1, changes: [change("a")] })).toEqual([]);
  });
});
