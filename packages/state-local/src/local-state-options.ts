import { assertIdentifierLength, createSessionId, describe, StateError } from "@statebridge/state-provider";

/** Options of `createLocalState`. */
export interface LocalStateOptions {
  /** The session id. Default: a new random `session_…` id. */
  readonly sessionId?: string;
  /** Who this provider writes as; lands in each variable's `source`. Default `"typescript"`. */
  readonly source?: string;
  /**
   * How many of the latest revisions are kept so that `watch({ fromRevision })` can replay
   * what a watcher missed; older resumes get `resync` events. Default 1000.
   */
  readonly historySize?: number;
  /** The wall clock, in epoch milliseconds, for timestamps. Default `Date.now`. */
  readonly now?: () => number;
}

/** {@link LocalStateOptions} checked, with every default filled in. */
export interface ResolvedLocalStateOptions {
  readonly sessionId: string;
  readonly source: string;
  readonly historySize: number;
  readonly now: () => number;
}

/**
 * Fills in the defaults of {@link LocalStateOptions} and checks what was given.
 *
 * @throws `invalid_value` for an empty or non-string id or source, a source over the identifier
 *   limit, a `historySize` that is not a non-negative integer, or a `now` that is not a function.
 */
export function resolveLocalStateOptions(options: LocalStateOptions): ResolvedLocalStateOptions {
  const sessionId = options.sessionId ?? createSessionId();
  const source = options.source ?? "typescript";
  const historySize = options.historySize ?? 1000;
  const now = options.now ?? Date.now;
  if (typeof sessionId !== "string" || sessionId.length === 0) {
    throw new StateError("invalid_value", `sessionId must be a non-empty string, got ${describe(sessionId)}`);
  }
  if (typeof source !== "string" || source.length === 0) {
    throw new StateError("invalid_value", `source must be a non-empty string, got ${describe(source)}`);
  }
  assertIdentifierLength(source, "a source");
  if (typeof historySize !== "number" || !Number.isSafeInteger(historySize) || historySize < 0) {
    throw new StateError(
      "invalid_value",
      `historySize must be a non-negative integer, got ${describe(historySize)}`,
    );
  }
  if (typeof now !== "function") {
    throw new StateError("invalid_value", `now must be a function, got ${describe(now)}`);
  }
  return { sessionId, source, historySize, now };
}
