import { StateError } from "./errors.js";
import { describe } from "./messages.js";

/**
 * Checks an `expectedVersion` option.
 * @throws `invalid_value` unless it is a non-negative safe integer.
 */
export function assertExpectedVersion(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StateError(
      "invalid_value",
      `expectedVersion must be a non-negative integer, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a watch's `fromRevision` option: absent, or the revision a resume continues after.
 * @throws `invalid_value` unless it is `undefined` or a non-negative safe integer.
 */
export function assertFromRevision(value: unknown): number | undefined {
  if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)) {
    throw new StateError(
      "invalid_value",
      `fromRevision must be a non-negative integer, got ${describe(value)}`,
    );
  }
  return value as number | undefined;
}
