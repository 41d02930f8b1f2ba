import { describe, MAX_IDENTIFIER_LENGTH, StateError } from "@statebridge/state-provider";

/** Longest accepted session id, in UTF-16 code units: the identifier limit. */
const MAX_SESSION_ID_LENGTH = MAX_IDENTIFIER_LENGTH;

/**
 * Checks a session id, the same way in every store (the compliance suite compares the errors).
 * @throws `invalid_value` for a non-string, an empty id or one over the identifier limit.
 */
export function checkSessionId(sessionId: unknown): string {
  if (typeof sessionId !== "string") {
    throw new StateError("invalid_value", `a session id must be a string, got ${describe(sessionId)}`);
  }
  if (sessionId.length === 0) throw new StateError("invalid_value", "a session id must not be empty");
  if (sessionId.length > MAX_SESSION_ID_LENGTH) {
    throw new StateError(
      "invalid_value",
      `a session id must be at most ${MAX_SESSION_ID_LENGTH} characters, got ${sessionId.length}`,
    );
  }
  return sessionId;
}
