import { StateError } from "./errors.js";
import { describe } from "./messages.js";
import { isWellFormed } from "./unicode.js";

/**
 * Longest accepted identifier, in UTF-16 code units: a variable name or id given to any
 * operation, a metadata key, a write's source. Longer ones are refused with `invalid_value`
 * before they are looked up, stored or echoed.
 */
export const MAX_IDENTIFIER_LENGTH = 1024;
/** Longest accepted variable name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = MAX_IDENTIFIER_LENGTH;

/** The id of a variable: `var_` and 24 lowercase hex digits. Names of this shape are refused. */
export const ID_PATTERN = /^var_[0-9a-f]{24}$/;

/**
 * Refuses a string identifier longer than {@link MAX_IDENTIFIER_LENGTH}; anything else passes
 * (what is wrong with a non-string is for the caller's own check to say).
 * @param what - what the identifier is, for the message, such as `"a variable identifier"`.
 * @throws `invalid_value` naming the length, not echoing the identifier.
 */
export function assertIdentifierLength(identifier: unknown, what = "an identifier"): void {
  if (typeof identifier === "string" && identifier.length > MAX_IDENTIFIER_LENGTH) {
    throw new StateError(
      "invalid_value",
      `${what} must be at most ${MAX_IDENTIFIER_LENGTH} characters, got ${identifier.length}`,
    );
  }
}

/** Tells whether a string has the shape of a variable id. */
export function isIdShaped(value: string): boolean {
  return ID_PATTERN.test(value);
}

/**
 * Checks a variable name: a non-empty, well-formed Unicode string of at most
 * {@link MAX_NAME_LENGTH} code units that is not shaped like an id.
 * @throws `invalid_value`.
 */
export function assertVariableName(name: unknown): string {
  if (typeof name !== "string") {
    throw new StateError("invalid_value", `a variable name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new StateError("invalid_value", "a variable name must not be empty");
  if (name.length > MAX_NAME_LENGTH) {
    throw new StateError(
      "invalid_value",
      `a variable name must be at most ${MAX_NAME_LENGTH} characters, got ${name.length}`,
    );
  }
  if (!isWellFormed(name)) {
    throw new StateError(
      "invalid_value",
      "a variable name must be well-formed Unicode (it has a lone surrogate)",
    );
  }
  if (isIdShaped(name)) {
    throw new StateError(
      "invalid_value",
      `name ${JSON.stringify(name)} is shaped like a variable id and would be ambiguous`,
    );
  }
  return name;
}
