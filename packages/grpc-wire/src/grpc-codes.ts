import type { StateErrorCode } from "@statebridge/state-provider";

/**
 * The gRPC status code each error code travels under (numeric, as in the gRPC spec). The exact
 * code also travels in the `statebridge-error-code` trailer and the status details, because
 * several codes share one status.
 */
export const GRPC_STATUS_OF: Readonly<Record<StateErrorCode, number>> = Object.freeze({
  not_found: 5, // NOT_FOUND
  // The session is gone, which a client that never saw the detail should read as "not found".
  session_expired: 5, // NOT_FOUND
  already_exists: 6, // ALREADY_EXISTS
  invalid_type: 3, // INVALID_ARGUMENT
  invalid_value: 3, // INVALID_ARGUMENT
  invalid_export: 3, // INVALID_ARGUMENT
  // The value is well-formed but outside what its constraints allow.
  constraint_violation: 11, // OUT_OF_RANGE
  // The standard code for a failed optimistic-concurrency check.
  version_conflict: 10, // ABORTED
  // Part of the batch was applied; the caller must look at the failures before retrying.
  partial_failure: 9, // FAILED_PRECONDITION
  resource_exhausted: 8, // RESOURCE_EXHAUSTED
  unauthenticated: 16, // UNAUTHENTICATED
  unavailable: 14, // UNAVAILABLE
  closed: 1, // CANCELLED
});

/** The error code a gRPC status means when no detail says better. */
export function stateCodeOfGrpcStatus(status: number): StateErrorCode {
  switch (status) {
    case 5:
      return "not_found";
    case 6:
      return "already_exists";
    case 3:
      return "invalid_value";
    case 11:
      return "constraint_violation";
    case 10:
      return "version_conflict";
    case 9:
      return "partial_failure";
    case 8:
      return "resource_exhausted";
    case 16:
      return "unauthenticated";
    // CANCELLED without a statebridge code comes from the transport (a reset or cut stream),
    // never from the server refusing the call: the server could not be reached.
    default:
      // UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN…: the server could not be relied on.
      return "unavailable";
  }
}

/** The trailer that carries the exact error code. */
export const ERROR_CODE_TRAILER = "statebridge-error-code";
