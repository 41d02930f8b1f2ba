import type { WatchEvent } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { checkHistory, type HistoryInput, type WatcherRecord, type WriteRecord } from "./history-checker.js";

// A session: a and b registered at r1 and r2 (value 0), then r3 set a=1, r4 atomic a=2 b=2,
// r5 set b=3, r6 set a=3.
const variables = [
  { name: "a", id: "var_a", initialValue: 0, registeredAt: 1 },
  { name: "b", id: "var_b", initialValue: 0, registeredAt: 2 },
];
const writes: WriteRecord[] = [
  { writer: "w1", revision: 3, atomic: false, changes: [{ name: "a", version: 1, value: 1 }] },
  {
    writer: "w2",
    revision: 4,
    atomic: true,
    changes: [
      { name: "a", version: 2, value: 2 },
      { name: "b", version: 1, value: 2 },
    ],
  },
  { writer: "w1", revision: 5, atomic: false, changes: [{ name: "b", version: 2, value: 3 }] },
  { writer: "w2", revision: 6, atomic: false, changes: [{ name: "a", version: 3, value: 3 }] },
];

function event(
  type: WatchEvent["type"],
  name: string,
  revision: number,
  version: number,
  newValue: number,
  oldValue?: number,
): WatchEvent {
  return {
    type,
    identifier: name,
    id: `var_${name}`,
    name,
    variableType: "integer",
    oldValue,
    newValue,
    version,
    revision,
    source: "test",
    metadata: {},
    timestamp: 0,
  };
}

const correct = [
  event("value_change", "a", 3, 1, 1, 0),
  event("value_change", "a", 4, 2, 2, 1),
  event("value_change", "b", 4, 1, 2, 0),
  event("value_change", "b", 5, 2, 3, 2),
  event("value_change", "a", 6, 3, 3, 2),
];

function check(
  events: readonly WatchEvent[],
  overrides: Partial<WatcherRecord> = {},
  input: Partial<HistoryInput> = {},
) {
  return checkHistory({
    variables,
    writes,
    finalRevision: 6,
    historyCoversRun: true,
    watchers: [
      {
        label: "w",
        names: ["a", "b"],
        start: { kind: "live", revision: 2 },
        events,
        reconnects: 1,
        ...overrides,
      },
    ],
    ...input,
  });
}

function guaranteesBroken(
  events: readonly WatchEvent[],
  overrides: Partial<WatcherRecord> = {},
  input: Partial<HistoryInput> = {},
) {
  return [
    ...new Set(check(events, overrides, input).violations.map((violation) => violation.split(":")[0])),
  ].sort();
}

describe("checkHistory", () => {
  it("accepts a history that matches the writers' log", () => {
    const report = check(correct);
    expect(report.violations).toEqual([]);
    expect(report).toMatchObject({ events: 5, resyncs: 0, reconnects: 1 });
  });

  it("accepts a snapshot at the start, then the changes", () => {
    const events = [event("initial", "a", 2, 0, 0), event("initial", "b", 2, 0, 0), ...correct];
    expect(check(events, { start: { kind: "initial", revision: 2 } }).violations).toEqual([]);
  });

  it("accepts a resync that stands for the changes it covers, with the value of its revision", () => {
    const events = [
      event("value_change", "a", 3, 1, 1, 0),
      event("resync", "a", 5, 2, 2),
      event("resync", "b", 5, 2, 3),
      event("value_change", "a", 6, 3, 3, 2),
    ];
    expect(check(events, {}, { historyCoversRun: false }).violations).toEqual([]);
  });

  it("reports a skipped change as Reliable", () => {
    expect(guaranteesBroken(correct.filter((_, index) => index !== 3))).toEqual(["Reliable"]);
  });

  it("reports a missing tail as Reliable", () => {
    expect(check(correct.slice(0, 4)).violations).toEqual([
      "Reliable: w: a (var_a): 1 changes never arrived (first: r6)",
    ]);
  });

  it("reports a repeated change as Unique", () => {
    const events = [...correct.slice(0, 4), correct[3] as WatchEvent, correct[4] as WatchEvent];
    expect(guaranteesBroken(events)).toContain("Unique");
  });

  it("reports events out of revision order as Ordered", () => {
    const events = [correct[0], correct[3], correct[1], correct[2], correct[4]] as WatchEvent[];
    expect(guaranteesBroken(events)).toContain("Ordered");
  });

  it("reports a batch split by another revision, or cut short, as Atomic", () => {
    const split = [correct[0], correct[1], correct[3], correct[2], correct[4]] as WatchEvent[];
    expect(guaranteesBroken(split)).toContain("Atomic");
    const short = correct.filter((_, index) => index !== 2);
    expect(guaranteesBroken(short)).toContain("Atomic");
  });

  it("reports a wrong value, version or old value as Reliable", () => {
    const wrongValue = correct.map((item, index) =>
      index === 4 ? event("value_change", "a", 6, 3, 99, 2) : item,
    );
    expect(guaranteesBroken(wrongValue)).toEqual(["Reliable"]);
    const wrongOld = correct.map((item, index) =>
      index === 4 ? event("value_change", "a", 6, 3, 3, 1) : item,
    );
    expect(guaranteesBroken(wrongOld)).toEqual(["Reliable"]);
  });

  it("reports a resync with a stale value as Reliable, and any resync as Resumable when the history covered the run", () => {
    const events = [
      event("value_change", "a", 3, 1, 1, 0),
      event("resync", "a", 5, 1, 1),
      ...correct.slice(2),
    ];
    const broken = guaranteesBroken(events);
    expect(broken).toContain("Reliable");
    expect(broken).toContain("Resumable");
  });

  it("reports initial values replayed after a reconnect as Resumable", () => {
    const events = [...correct.slice(0, 2), event("initial", "a", 4, 2, 2), ...correct.slice(2)];
    expect(guaranteesBroken(events, { start: { kind: "initial", revision: 2 } })).toContain("Resumable");
  });

  it("reports an event for a variable not watched as Identity", () => {
    expect(guaranteesBroken(correct, { names: ["a"] })).toEqual(["Identity"]);
  });
});

describe("checkHistory on deletes, re-registers and a recreated session", () => {
  // After r6: r7 deletes a, r8 registers a new a (var_a2, value 10), r9 sets it to 11.
  const replaced = {
    variables: [
      { ...(variables[0] as (typeof variables)[0]), deletedAt: 7 },
      variables[1] as (typeof variables)[0],
      { name: "a", id: "var_a2", initialValue: 10, registeredAt: 8 },
    ],
    writes: [
      ...writes,
      { writer: "w1", revision: 9, atomic: false, changes: [{ name: "a", version: 1, value: 11 }] },
    ],
    finalRevision: 9,
  };
  const deletion = { ...event("deleted", "a", 7, 3, 3), newValue: undefined, oldValue: 3 };
  const ofNewA = { ...event("value_change", "a", 9, 1, 11, 10), id: "var_a2" };

  it("accepts a watch of a name that ends with the deletion and gets nothing of the new variable", () => {
    expect(check([...correct, deletion], {}, replaced).violations).toEqual([]);
  });

  it("reports an event of the variable registered later under the watched name as Identity", () => {
    expect(guaranteesBroken([...correct, deletion, ofNewA], {}, replaced)).toEqual(["Identity"]);
  });

  it("reports a deletion that never arrived as Reliable", () => {
    expect(guaranteesBroken(correct, {}, replaced)).toEqual(["Reliable"]);
  });

  it("follows the ids a watch resolved when it opened: a watch opened after the re-register gets the new variable", () => {
    const opened = { start: { kind: "live", revision: 8 } as const, names: ["a"] };
    expect(check([ofNewA], opened, replaced).violations).toEqual([]);
    expect(guaranteesBroken([deletion, ofNewA], opened, replaced)).toEqual(["Identity"]);
  });

  it("requires every watcher to end with session_expired after the session was recreated", () => {
    const recreated = { sessionRecreated: true };
    expect(check(correct, { endedWith: "session_expired" }, recreated).violations).toEqual([]);
    expect(guaranteesBroken(correct, {}, recreated)).toEqual(["Incarnation"]);
    // An event of the new session (its revisions start again) breaks the order as well.
    const ofNewSession = event("value_change", "a", 2, 1, 1, 0);
    expect(
      guaranteesBroken([...correct, ofNewSession], { endedWith: "session_expired" }, recreated),
    ).toContain("Ordered");
  });
});
