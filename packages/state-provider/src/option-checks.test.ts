import { describe, expect, it } from "vitest";
import { isStateError } from "./errors.js";
import { assertFromRevision } from "./option-checks.js";

describe("assertFromRevision", () => {
  it("passes undefined and non-negative safe integers through, and refuses the rest with invalid_value", () => {
    for (const value of [undefined, 0, 1, Number.MAX_SAFE_INTEGER])
      expect(assertFromRevision(value)).toBe(value);
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "1", null]) {
      let caught: unknown;
      try {
        assertFromRevision(value);
      } catch (error) {
        caught = error;
      }
      expect(isStateError(caught, "invalid_value"), `fromRevision ${String(value)}`).toBe(true);
      expect((caught as Error).message).toMatch(
        /^invalid_value: fromRevision must be a non-negative integer, got /,
      );
    }
  });
});
