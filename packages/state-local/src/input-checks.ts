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
