import { describe, expect, it } from "vitest";
import { isStateError } from "./errors.js";
import { assertFromRevision, entriesOf } from "./option-checks.js";

/** Expects `check(value)` to throw invalid_value with a message that matches `message`. */
function expectRefused(check: (value: unknown) => unknown, value: unknown, message: RegExp): void {
  let caught: unknown;
  try {
    check(value);
  } catch (error) {
    caught = error;
  }
  expect(isStateError(caught, "invalid_value"), `refuses ${String(value)}`).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

describe("assertFromRevision", () => {
  it("passes undefined and non-negative safe integers through, and refuses the rest with invalid_value", () => {
    for (const value of [undefined, 0, 1, Number.MAX_SAFE_INTEGER])
      expect(assertFromRevision(value)).toBe(value);
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "1", null]) {
      expectRefused(
        assertFromRevision,
        value,
        /^invalid_value: fromRevision must be a non-negative integer, got /,
      );
    }
  });
});

describe("entriesOf", () => {
  it("gives a Map's entries and a plain object's own enumerable ones, and refuses the rest with invalid_value", () => {
    expect([...entriesOf(new Map([["a", 1]]))]).toEqual([["a", 1]]);
    expect([...entriesOf({ a: 1, b: 2 })]).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    for (const value of [[["a", 1]], new Uint8Array(1), null, undefined, "a", 1]) {
      expectRefused(
        entriesOf,
        value,
        /^invalid_value: updateMany takes a Map or an object of identifier → value, got /,
      );
    }
  });
});
