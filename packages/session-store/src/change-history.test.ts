import { describe, expect, it } from "vitest";
import { createChangeHistory } from "./change-history.js";
import type { ChangeRecord } from "./change-record.js";

function record(revision: number, bytes = 1): ChangeRecord {
  return { revision, changes: [], bytes };
}

describe("createChangeHistory", () => {
  it("keeps records in order and answers those after a revision", () => {
    const history = createChangeHistory(10, 1_000_000, 0);
    for (const revision of [1, 2, 4, 7]) history.push(record(revision));
    expect(history.after(0).map((entry) => entry.revision)).toEqual([1, 2, 4, 7]);
    expect(history.after(2).map((entry) => entry.revision)).toEqual([4, 7]);
    expect(history.after(3).map((entry) => entry.revision)).toEqual([4, 7]);
    expect(history.after(7)).toEqual([]);
    expect(history.base).toBe(0);
  });

  it("drops the oldest record when full and moves base to its revision", () => {
    const history = createChangeHistory(3, 1_000_000, 0);
    for (let revision = 1; revision <= 5; revision++) history.push(record(revision));
    expect(history.size).toBe(3);
    expect(history.base).toBe(2);
    expect(history.after(2).map((entry) => entry.revision)).toEqual([3, 4, 5]);
  });

  it("grows past its first allocation and stays correct across wrap-around", () => {
    const history = createChangeHistory(1000, 1_000_000, 0);
    for (let revision = 1; revision <= 2500; revision++) history.push(record(revision));
    expect(history.size).toBe(1000);
    expect(history.base).toBe(1500);
    const after = history.after(2000).map((entry) => entry.revision);
    expect(after).toHaveLength(500);
    expect(after[0]).toBe(2001);
    expect(after.at(-1)).toBe(2500);
  });

  it("with capacity 0 keeps nothing and base follows every record", () => {
    const history = createChangeHistory(0, 1_000_000, 5);
    history.push(record(6));
    expect(history.size).toBe(0);
    expect(history.base).toBe(6);
  });

  it("reset() forgets everything and starts at the given base", () => {
    const history = createChangeHistory(5, 1_000_000, 0);
    history.push(record(1));
    history.reset(42);
    expect(history.size).toBe(0);
    expect(history.base).toBe(42);
    history.push(record(43));
    expect(history.after(42).map((entry) => entry.revision)).toEqual([43]);
  });

  it("drops the oldest records past its byte bound and moves base to the last dropped", () => {
    const history = createChangeHistory(100, 10, 0);
    for (const [revision, bytes] of [
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 1],
    ] as const)
      history.push(record(revision, bytes));
    expect(history.bytes).toBe(9);
    expect(history.base).toBe(1);
    expect(history.after(0).map((entry) => entry.revision)).toEqual([2, 3, 4]);
  });

  it("keeps no record larger than its byte bound: base moves to that record's revision", () => {
    const history = createChangeHistory(100, 10, 0);
    history.push(record(1, 5));
    history.push(record(2, 11));
    expect([history.size, history.bytes, history.base]).toEqual([0, 0, 2]);
  });

  it("dropOldest() frees the oldest record's bytes", () => {
    const history = createChangeHistory(100, 100, 0);
    history.push(record(1, 7));
    history.push(record(2, 3));
    expect(history.dropOldest()).toBe(7);
    expect([history.size, history.bytes, history.base]).toEqual([1, 3, 1]);
    expect(history.dropOldest()).toBe(3);
    expect(history.dropOldest()).toBe(0);
  });
});
