import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "@statebridge/proto";
import {
  ERROR_CODE_TRAILER,
  isStateError,
  isStateErrorCode,
  StateError,
  type StateErrorCode,
  type StateErrorFailure,
  stateCodeOfGrpcStatus,
} from "@statebridge/state-provider";

/**
 * Translates what a Connect call threw into the {@link StateError} a caller of a statebridge
 * provider expects. This is the client's one seam from the wire to the domain: BridgedState
 * and the stream consumer both use it, so that a unary call and a watch stream report the
 * same failure with the same code.
 *
 * The exact code is read, in order, from the `ErrorDetail` status detail, then from the
 * `statebridge-error-code` trailer, and only then guessed from the gRPC status (several codes
 * share one status, so the guess is the last resort). A `StateError` is returned as is;
 * anything else (a socket error, an abort) becomes `unavailable` or `closed` with the original
 * error as `cause`.
 *
 * @param error - what the call threw or rejected with.
 * @param context - optional words prefixed to the message, such as `watch "temperature"`.
 */
export function stateErrorFromConnectError(error: unknown, context?: string): StateError {
  if (isStateError(error)) return error;
  const connectError = ConnectError.from(error);
  const detail = findErrorDetail(connectError);
  const code = exactCode(connectError, detail?.code);
  const rawMessage =
    detail?.message !== undefined && detail.message !== "" ? detail.message : connectError.rawMessage;
  const message = context === undefined ? rawMessage : `${context}: ${stripCode(rawMessage, code)}`;
  if (detail === undefined || code !== "partial_failure") {
    return new StateError(code, message, { cause: error });
  }
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
  return new StateError(code, message, { cause: error, failures, applied });
}

/**
 * Tells whether a watch that failed with `error` may be reopened. Only conditions that can
 * pass are retried: the server going away or shutting down (`unavailable`), a slow consumer
 * cut off or a quota (`resource_exhausted`), a stream cancelled by someone other than the
 * watcher (`closed`). Everything else, such as `session_expired`, `not_found`,
 * `unauthenticated` or `invalid_value`, would fail the same way again.
 */
export function isRetryableWatchError(error: StateError): boolean {
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
  // A client-side abort or deadline is reported by connect as Canceled / DeadlineExceeded
  // without any server detail: the server was not reached or did not answer in time.
  if (error.code === Code.DeadlineExceeded) return "unavailable";
  return stateCodeOfGrpcStatus(error.code);
}

function stripCode(message: string, code: StateErrorCode): string {
  const prefix = `${code}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
