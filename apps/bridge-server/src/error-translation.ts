import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER, GRPC_STATUS_OF } from "@statebridge/grpc-wire";
import { ErrorDetailSchema } from "@statebridge/proto";
import { isStateError, StateError } from "@statebridge/state-provider";
import type { BridgeServerLogger } from "./logger.js";
import { createMapObject, int64 } from "./wire-conversion.js";

/** Facts about a failure that the error itself does not carry. */
export interface ErrorContext {
  /** For `partial_failure`: the revision the applied part took. */
  readonly revision?: number;
  /** What was being served, for the log line of an unexpected error. */
  readonly procedure?: string;
}

/**
 * The server's one seam from the domain to the wire: turns whatever a handler threw into the
 * ConnectError the client receives.
 *
 * A {@link StateError} travels under the gRPC status of `GRPC_STATUS_OF`, with its exact code
 * in the `statebridge-error-code` trailer and a `statebridge.v1.ErrorDetail` (code, message,
 * failures, applied, revision) in the status details, so that any client recovers the same
 * error whatever protocol it speaks. A ConnectError is returned as it is. Anything else is a
 * defect: it is logged and answered with INTERNAL, without its message.
 */
export function toConnectError(
  error: unknown,
  logger: BridgeServerLogger,
  context: ErrorContext = {},
): ConnectError {
  if (error instanceof ConnectError) return error;
  if (isStateError(error)) return connectErrorOfStateError(error, context.revision);
  logger.error({ err: error, procedure: context.procedure }, "unexpected error while serving a call");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** Builds the ConnectError of a domain error. */
export function connectErrorOfStateError(error: StateError, revision?: number): ConnectError {
  return new ConnectError(
    error.message,
    GRPC_STATUS_OF[error.code] as Code,
    { [ERROR_CODE_TRAILER]: error.code },
    [{ desc: ErrorDetailSchema, value: errorDetailOf(error, revision) }],
    error,
  );
}

/**
 * The `statebridge.v1.ErrorDetail` of a domain error: in a status's details, or in the
 * `ended` message of one watch of a multiplexed stream.
 */
export function errorDetailOf(
  error: StateError,
  revision?: number,
): MessageInitShape<typeof ErrorDetailSchema> {
  const failures = [];
  for (const [identifier, failure] of error.failures) {
    failures.push({ identifier, code: failure.code, message: failure.message });
  }
  const applied = createMapObject<bigint>();
  for (const [identifier, version] of error.applied) applied[identifier] = int64(version);
  return {
    code: error.code,
    message: error.message,
    failures,
    applied,
    revision: revision === undefined ? 0n : int64(revision),
  };
}

/** A domain error for a request that names no session. */
export function missingSessionId(): StateError {
  return new StateError("invalid_value", "session_id is required and must not be empty");
}
