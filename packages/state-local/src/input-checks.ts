import { describe, StateError } from "@statebridge/state-provider";

/** The `not_found` error for an identifier that names no variable (or is not a string). */
export function notFound(identifier: unknown): StateError {
  return new StateError(
    "not_found",
    `no variable is named or has id ${typeof identifier === "string" ? JSON.stringify(identifier) : describe(identifier)}`,
  );
}

/**
 * Checks that `getMany` or `watch` was given an iterable of identifiers.
 *
 * @throws `invalid_value` for anything else, a string included (it iterates as characters).
 */
export function checkIterable(value: unknown, what: string): asserts value is Iterable<unknown> {
  // A string is iterable too, but as characters: almost certainly a mistake here.
  if (
    value === null ||
    typeof value !== "object" ||
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function"
  ) {
    throw new StateError("invalid_value", `${what} takes an iterable of identifiers, got ${describe(value)}`);
  }
}

/**
 * The entries of `updateMany`'s updates: a Map's, or a plain object's own enumerable ones.
 *
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
