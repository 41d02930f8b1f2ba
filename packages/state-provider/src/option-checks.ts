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

/**
 * The entries of `updateMany`'s updates: a Map's, or a plain object's own enumerable ones.
 * Keys are not checked here: each provider checks the identifiers as it reads them.
 * @throws `invalid_value` for an array, a typed array or anything that is not an object.
 */
export function entriesOf(updates: unknown): Iterable<[unknown, unknown]> {
  if (updates instanceof Map) return updates.entries();
  if (
    typeof updates === "object" &&
    updates !== null &&
    !Array.isArray(updates) &&
    !ArrayBuffer.isView(updates)
  ) {
    return Object.entries(updates);
  }
  throw new StateError(
    "invalid_value",
    `updateMany takes a Map or an object of identifier → value, got ${describe(updates)}`,
  );
}
