import { describe, expect, it } from "vitest";
import { createChangeHistory } from "./change-history.js";
import type { ChangeRecord } from "./change-record.js";

function record(revision: number): ChangeRecord {
  return { revision, changes: [] };
}

describe("createChangeHistory", () => {
  it("keeps records in order and answers those after a revision", () => {
    const history = createChangeHistory(10, 0);
    for (const revision of [1, 2, 4, 7]) history.push(record(revision));
    expect(history.after(0).map((entry) => entry.revision)).toEqual([1, 2, 4, 7]);
    expect(history.after(2).map((entry) => entry.revision)).toEqual([4, 7]);
    expect(history.after(3).map((entry) => entry.revision)).toEqual([4, 7]);
    expect(history.after(7)).toEqual([]);
    expect(history.base).toBe(0);
  });

  it("drops the oldest record when full and moves base to its revision", () => {
    const history = createChangeHistory(3, 0);
    for (let revision = 1; revision <= 5; revision++) history.push(record(revision));
    expect(history.size).toBe(3);
    expect(history.base).toBe(2);
    expect(history.after(2).map((entry) => entry.revision)).toEqual([3, 4, 5]);
  });

  it("grows past its first allocation and stays correct across wrap-around", () => {
    const history = createChangeHistory(1000, 0);
    for (let revision = 1; revision <= 2500; revision++) history.push(record(revision));
    expect(history.size).toBe(1000);
    expect(history.base).toBe(1500);
    const after = history.after(2000).map((entry) => entry.revision);
    expect(after).toHaveLength(500);
    expect(after[0]).toBe(2001);
    expect(after.at(-1)).toBe(2500);
  });

  it("with capacity 0 keeps nothing and base follows every record", () => {
    const history = createChangeHistory(0, 5);
    history.push(record(6));
    expect(history.size).toBe(0);
    expect(history.base).toBe(6);
  });

  it("reset() forgets everything and starts at the given base", () => {
    const history = createChangeHistory(5, 0);
    history.push(record(1));
    history.reset(42);
    expect(history.size).toBe(0);
    expect(history.base).toBe(42);
    history.push(record(43));
    expect(history.after(42).map((entry) => entry.revision)).toEqual([43]);
  });
});
