/**
 * The stable error codes of statebridge. Every backend, the bridge-server and the Python
 * client report the same code for the same failure; each maps one-to-one to a gRPC status.
 */
export const STATE_ERROR_CODES = [
  "not_found",
  "already_exists",
  "invalid_type",
  "invalid_value",
  "constraint_violation",
  "version_conflict",
  "partial_failure",
  "invalid_export",
  "session_expired",
  "unavailable",
  "resource_exhausted",
  "unauthenticated",
  "closed",
] as const;

/** One of {@link STATE_ERROR_CODES}. */
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

/** What went wrong with one identifier of a batch that failed in part. */
export interface StateErrorFailure {
  /** The stable code of this identifier's failure. */
  readonly code: StateErrorCode;
  /** A message naming the identifier and the value. */
  readonly message: string;
}

/** Options of the {@link StateError} constructor. */
export interface StateErrorOptions {
  /** The underlying error, if any. */
  readonly cause?: unknown;
  /** For `partial_failure`: each identifier that failed, keyed as the caller named it. */
  readonly failures?: ReadonlyMap<string, StateErrorFailure>;
  /** For `partial_failure`: the identifiers that were applied, with their new versions. */
  readonly applied?: ReadonlyMap<string, number>;
}

const brand = Symbol.for("@statebridge/state-provider/StateError");

/**
 * The one error class of statebridge. `code` is stable and meant for programs; `message` is
 * meant for people and names what was wrong and with what.
 *
 * Use {@link isStateError} rather than `instanceof`: it also recognizes errors created by
 * another copy of this package.
 */
export class StateError extends Error {
  override readonly name = "StateError";
  /** The stable code. */
  readonly code: StateErrorCode;
  /** For `partial_failure`: each identifier that failed. Empty otherwise. */
  readonly failures: ReadonlyMap<string, StateErrorFailure>;
  /** For `partial_failure`: each identifier that was applied, with its new version. Empty otherwise. */
  readonly applied: ReadonlyMap<string, number>;

  /**
   * @param code - the stable code.
   * @param message - a human-readable message; the code is prefixed unless already present.
   */
  constructor(code: StateErrorCode, message: string, options: StateErrorOptions = {}) {
    super(
      message.startsWith(`${code}:`) ? message : `${code}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.failures = options.failures ?? new Map();
    this.applied = options.applied ?? new Map();
    Object.defineProperty(this, brand, { value: true });
  }

  /** The message without its `code: ` prefix. */
  get rawMessage(): string {
    const prefix = `${this.code}: `;
    return this.message.startsWith(prefix) ? this.message.slice(prefix.length) : this.message;
  }
}

/**
 * Tells whether a value is a {@link StateError}, also one created by another copy of this
 * package (a `Symbol.for` brand, not `instanceof`). With `code`, also checks the code.
 */
export function isStateError(value: unknown, code?: StateErrorCode): value is StateError {
  if (typeof value !== "object" || value === null) return false;
  if ((value as Record<symbol, unknown>)[brand] !== true) return false;
  return code === undefined || (value as StateError).code === code;
}

/** Tells whether a string is one of the stable codes. */
export function isStateErrorCode(value: unknown): value is StateErrorCode {
  return typeof value === "string" && (STATE_ERROR_CODES as readonly string[]).includes(value);
}
