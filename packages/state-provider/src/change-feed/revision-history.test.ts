import { describe, expect, it } from "vitest";
import { createRevisionHistory, type RevisionHistory } from "./revision-history.js";

interface Entry {
  readonly revision: number;
  readonly bytes: number;
}

function entry(revision: number, bytes = 1): Entry {
  return { revision, bytes };
}

/** A history bounded by count only, as LocalState keeps one. */
function counted(capacity: number, base?: number): RevisionHistory<Entry> {
  return createRevisionHistory<Entry>(base === undefined ? { capacity } : { capacity, base });
}

/** A history bounded by count and bytes, as the session store keeps one. */
function sized(capacity: number, maxBytes: number, base = 0): RevisionHistory<Entry> {
  return createRevisionHistory<Entry>({ capacity, maxBytes, base, bytesOf: (record) => record.bytes });
}

function revisionsAfter(history: RevisionHistory<Entry>, revision: number): number[] {
  const visited: number[] = [];
  history.forEachAfter(revision, (record) => visited.push(record.revision));
  // after() and forEachAfter() answer the same.
  expect(history.after(revision).map((record) => record.revision)).toEqual(visited);
  return visited;
}

describe("createRevisionHistory", () => {
  it("keeps every revision while under capacity and lists those after a given one", () => {
    const history = counted(5);
    for (let revision = 1; revision <= 4; revision++) history.push(entry(revision));
    expect(history.base).toBe(0);
    expect(history.size).toBe(4);
    expect(revisionsAfter(history, 0)).toEqual([1, 2, 3, 4]);
    expect(revisionsAfter(history, 2)).toEqual([3, 4]);
    expect(revisionsAfter(history, 4)).toEqual([]);
  });

  it("answers those after a revision that falls between kept ones", () => {
    const history = sized(10, 1_000_000);
    for (const revision of [1, 2, 4, 7]) history.push(entry(revision));
    expect(revisionsAfter(history, 3)).toEqual([4, 7]);
    expect(revisionsAfter(history, 7)).toEqual([]);
    expect(history.base).toBe(0);
  });

  it("drops the oldest revision at capacity and moves base to it", () => {
    const history = counted(3);
    for (let revision = 1; revision <= 10; revision++) history.push(entry(revision));
    expect(history.size).toBe(3);
    expect(history.base).toBe(7);
    expect(revisionsAfter(history, 7)).toEqual([8, 9, 10]);
    expect(revisionsAfter(history, 8)).toEqual([9, 10]);
  });

  it("handles gaps between revisions (an import that jumped ahead)", () => {
    const history = counted(4);
    for (const revision of [1, 2, 50, 51, 52]) history.push(entry(revision));
    expect(history.base).toBe(1);
    expect(revisionsAfter(history, 1)).toEqual([2, 50, 51, 52]);
    expect(revisionsAfter(history, 10)).toEqual([50, 51, 52]);
  });

  it("grows past its first allocation and stays correct across wrap-around", () => {
    const history = sized(1000, 1_000_000);
    for (let revision = 1; revision <= 2500; revision++) history.push(entry(revision));
    expect(history.size).toBe(1000);
    expect(history.base).toBe(1500);
    const after = revisionsAfter(history, 2000);
    expect(after).toHaveLength(500);
    expect(after[0]).toBe(2001);
    expect(after.at(-1)).toBe(2500);
  });

  it("with capacity 0 keeps nothing and its base follows the latest revision", () => {
    const history = counted(0, 5);
    history.push(entry(6));
    history.push(entry(7));
    expect(history.size).toBe(0);
    expect(history.base).toBe(7);
    expect(revisionsAfter(history, 0)).toEqual([]);
  });

  it("reset() forgets everything and starts at the new base", () => {
    const history = counted(3);
    for (let revision = 1; revision <= 5; revision++) history.push(entry(revision));
    history.reset(40);
    expect([history.size, history.bytes, history.base]).toEqual([0, 0, 40]);
    history.push(entry(41));
    expect(revisionsAfter(history, 40)).toEqual([41]);
  });

  it("without bytesOf counts no bytes and bounds by count only", () => {
    const history = createRevisionHistory<Entry>({ capacity: 2, maxBytes: 1 });
    for (let revision = 1; revision <= 3; revision++) history.push(entry(revision, 100));
    expect([history.size, history.bytes, history.base]).toEqual([2, 0, 1]);
  });

  it("drops the oldest records past its byte bound and moves base to the last dropped", () => {
    const history = sized(100, 10);
    for (const [revision, bytes] of [
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 1],
    ] as const)
      history.push(entry(revision, bytes));
    expect(history.bytes).toBe(9);
    expect(history.base).toBe(1);
    expect(revisionsAfter(history, 0)).toEqual([2, 3, 4]);
  });

  it("when full, a record replaces the oldest if the bytes fit and drops more records if they do not", () => {
    const history = sized(3, 10);
    for (const revision of [1, 2, 3]) history.push(entry(revision, 2));
    history.push(entry(4, 3));
    expect([history.size, history.bytes, history.base]).toEqual([3, 7, 1]);
    history.push(entry(5, 7));
    expect([history.size, history.bytes, history.base]).toEqual([2, 10, 3]);
    expect(revisionsAfter(history, 0)).toEqual([4, 5]);
  });

  it("keeps no record larger than its byte bound: base moves to that record's revision", () => {
    const history = sized(100, 10);
    history.push(entry(1, 5));
    history.push(entry(2, 11));
    expect([history.size, history.bytes, history.base]).toEqual([0, 0, 2]);
  });

  it("dropOldest() frees the oldest record's bytes", () => {
    const history = sized(100, 100);
    history.push(entry(1, 7));
    history.push(entry(2, 3));
    expect(history.dropOldest()).toBe(7);
    expect([history.size, history.bytes, history.base]).toEqual([1, 3, 1]);
    expect(history.dropOldest()).toBe(3);
    expect(history.dropOldest()).toBe(0);
    expect(history.base).toBe(2);
  });
});
