import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER, isReceiveLimitError, stateCodeOfGrpcStatus } from "@statebridge/grpc-wire";
import { type ErrorDetail, ErrorDetailSchema } from "@statebridge/proto";
import {
  isStateError,
  isStateErrorCode,
  StateError,
  type StateErrorCode,
  type StateErrorFailure,
} from "@statebridge/state-provider";

/** What {@link stateErrorFromConnectError} knows about the call besides the error. */
export interface ConnectErrorContext {
  /**
   * The caller was closed while the call was in flight: whatever the cancelled call threw,
   * the caller sees `closed`.
   */
  readonly closed?: boolean;
  /** The server's address, named in `unavailable` messages. */
  readonly target?: string;
  /** Words prefixed to the message, such as `watch "temperature"`. */
  readonly subject?: string;
}

/**
 * Translates what a Connect call threw into the {@link StateError} a caller of a statebridge
 * provider expects. This is the client's one seam from the wire to the domain: BridgedState
 * and the stream consumer both use it, so that a unary call and a watch stream report the
 * same failure with the same code.
 *
 * The exact code is read, in order, from the `ErrorDetail` status detail, then from the
 * `statebridge-error-code` trailer, and only then guessed from the gRPC status (several codes
 * share one status, so the guess is the last resort). A `partial_failure` carries its
 * `failures` and `applied` maps from the detail. A `StateError` is returned as is; a failure
 * that did not come from the server (a refused connection, a reset stream, a deadline)
 * becomes `unavailable` with the original error as `cause`.
 */
export function stateErrorFromConnectError(error: unknown, context: ConnectErrorContext = {}): StateError {
  if (isStateError(error)) return error;
  if (context.closed === true) {
    return new StateError("closed", "closed while the call was in flight", { cause: error });
  }
  const connectError = ConnectError.from(error);
  const detail = findErrorDetail(connectError);
  const code = exactCode(connectError, detail?.code);
  let message =
    detail?.message ||
    connectError.rawMessage ||
    `the call failed with gRPC status ${Code[connectError.code] ?? connectError.code}`;
  message = stripCode(message, code);
  if (code === "unavailable" && context.target !== undefined)
    message = `bridge-server at ${context.target}: ${message}`;
  if (context.subject !== undefined) message = `${context.subject}: ${message}`;
  return stateErrorOf(code, message, detail, error);
}

/**
 * Translates the `ErrorDetail` with which one watch of a multiplexed stream ended (the
 * stream itself goes on, so there is no status to read).
 */
export function stateErrorFromErrorDetail(
  detail: ErrorDetail,
  context: ConnectErrorContext = {},
): StateError {
  // A code this client does not know: the server could not serve the watch.
  const code = isStateErrorCode(detail.code) ? detail.code : "unavailable";
  let message = stripCode(detail.message || `the server ended the watch with ${detail.code}`, code);
  if (context.subject !== undefined) message = `${context.subject}: ${message}`;
  return stateErrorOf(code, message, detail, undefined);
}

function stateErrorOf(
  code: StateErrorCode,
  message: string,
  detail: ErrorDetail | undefined,
  cause: unknown,
): StateError {
  const causeOption = cause === undefined ? {} : { cause };
  if (detail === undefined || code !== "partial_failure") return new StateError(code, message, causeOption);
  const failures = new Map<string, StateErrorFailure>();
  for (const failure of detail.failures) {
    failures.set(failure.identifier, {
      // A failure whose code this client does not know is still a refused value.
      code: isStateErrorCode(failure.code) ? failure.code : "invalid_value",
      message: failure.message,
    });
  }
  const applied = new Map<string, number>();
  for (const [identifier, version] of Object.entries(detail.applied))
    applied.set(identifier, Number(version));
  return new StateError(code, message, { ...causeOption, failures, applied });
}

/**
 * Tells whether a watch that failed with `error` may be reopened. Only conditions that can
 * pass are retried: the server going away or shutting down (`unavailable`), a slow consumer
 * cut off or a quota (`resource_exhausted`), a stream cancelled by someone other than the
 * watcher (`closed`). Everything else, such as `session_expired`, `not_found`,
 * `unauthenticated` or `invalid_value`, would fail the same way again — and so would an event
 * larger than the client's maximum receive size (`resource_exhausted` too, but not retried).
 */
export function isRetryableWatchError(error: StateError): boolean {
  // A message over this client's own receive limit would come again on every reconnect.
  if (isReceiveLimitError(error)) return false;
  return error.code === "unavailable" || error.code === "resource_exhausted" || error.code === "closed";
}

function findErrorDetail(error: ConnectError) {
  try {
    return error.findDetails(ErrorDetailSchema)[0];
  } catch {
    return undefined;
  }
}

function exactCode(error: ConnectError, detailCode: string | undefined): StateErrorCode {
  if (isStateErrorCode(detailCode)) return detailCode;
  const trailer = error.metadata.get(ERROR_CODE_TRAILER);
  if (isStateErrorCode(trailer)) return trailer;
  switch (error.code) {
    // connect-node reports a reset connection (ECONNRESET) as ABORTED; the server always sends
    // its exact code with ABORTED, so an ABORTED without one came from the network.
    case Code.Aborted:
    // INTERNAL or UNKNOWN without a statebridge code: the server or the transport broke; the
    // request was not refused.
    case Code.Internal:
    case Code.Unknown:
    // A deadline that passed says the server did not answer in time.
    case Code.DeadlineExceeded:
      return "unavailable";
    default:
      return stateCodeOfGrpcStatus(error.code);
  }
}

function stripCode(message: string, code: StateErrorCode): string {
  const prefix = `${code}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
