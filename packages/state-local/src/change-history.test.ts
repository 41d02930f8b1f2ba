import { describe, expect, it } from "vitest";
import { createChangeHistory, type RevisionRecord } from "./change-history.js";

function revisionsAfter(history: ReturnType<typeof createChangeHistory>, revision: number): number[] {
  const seen: number[] = [];
  history.forEachAfter(revision, (entry: RevisionRecord) => seen.push(entry.revision));
  return seen;
}

describe("createChangeHistory", () => {
  it("keeps every revision while under capacity and lists those after a given one", () => {
    const history = createChangeHistory(5);
    for (let revision = 1; revision <= 4; revision++) history.append({ revision, changes: [] });
    expect(history.base).toBe(0);
    expect(history.size).toBe(4);
    expect(revisionsAfter(history, 0)).toEqual([1, 2, 3, 4]);
    expect(revisionsAfter(history, 2)).toEqual([3, 4]);
    expect(revisionsAfter(history, 4)).toEqual([]);
  });

  it("drops the oldest revision at capacity and moves base to it", () => {
    const history = createChangeHistory(3);
    for (let revision = 1; revision <= 10; revision++) history.append({ revision, changes: [] });
    expect(history.size).toBe(3);
    expect(history.base).toBe(7);
    expect(revisionsAfter(history, 7)).toEqual([8, 9, 10]);
    expect(revisionsAfter(history, 8)).toEqual([9, 10]);
  });

  it("handles gaps between revisions (an import that jumped ahead)", () => {
    const history = createChangeHistory(4);
    for (const revision of [1, 2, 50, 51, 52]) history.append({ revision, changes: [] });
    expect(history.base).toBe(1);
    expect(revisionsAfter(history, 1)).toEqual([2, 50, 51, 52]);
    expect(revisionsAfter(history, 10)).toEqual([50, 51, 52]);
  });

  it("with capacity 0 keeps nothing and its base follows the latest revision", () => {
    const history = createChangeHistory(0);
    history.append({ revision: 1, changes: [] });
    history.append({ revision: 2, changes: [] });
    expect(history.size).toBe(0);
    expect(history.base).toBe(2);
    expect(revisionsAfter(history, 0)).toEqual([]);
  });

  it("reset() forgets everything and starts at the new base", () => {
    const history = createChangeHistory(3);
    for (let revision = 1; revision <= 5; revision++) history.append({ revision, changes: [] });
    history.reset(40);
    expect(history.size).toBe(0);
    expect(history.base).toBe(40);
    history.append({ revision: 41, changes: [] });
    expect(revisionsAfter(history, 40)).toEqual([41]);
  });
});
