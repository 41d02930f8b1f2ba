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
 * Translates whatever a call to the bridge-server threw into a {@link StateError}. This is
 * the one place where a `ConnectError` becomes a domain error on the client side.
 *
 * The exact code comes from the `ErrorDetail` in the status details, else from the
 * `statebridge-error-code` trailer, else from the gRPC status alone. A `partial_failure`
 * carries its `failures` and `applied` maps from the detail. Failures that did not come from
 * the server (a refused connection, a deadline, a reset stream) become `unavailable`.
 *
 * @param error - what the call threw.
 * @param context - `closed`: the provider was closed while the call was in flight, so a call
 *   cancelled by `close()` reports `closed`; `target`: the server's address, named in
 *   `unavailable` messages.
 */
export function stateErrorOf(error: unknown, context: TranslationContext = {}): StateError {
  if (isStateError(error)) return error;
  if (context.closed === true) {
    return new StateError("closed", "the provider was closed while the call was in flight", { cause: error });
  }
  const connectError = ConnectError.from(error);
  const detail = readDetail(connectError);
  const trailerCode = connectError.metadata.get(ERROR_CODE_TRAILER);
  const code = exactCode(detail?.code, trailerCode, connectError.code);
  let message = detail?.message || connectError.rawMessage || describeStatus(connectError.code);
  if (code === "unavailable" && context.target !== undefined) {
    message = `bridge-server at ${context.target}: ${message}`;
  }
  if (code !== "partial_failure" || detail === undefined) {
    return new StateError(code, message, { cause: connectError });
  }
  const failures = new Map<string, StateErrorFailure>();
  for (const failure of detail.failures) {
    failures.set(failure.identifier, {
      // A failure code this client does not know is still a refusal of that value.
      code: isStateErrorCode(failure.code) ? failure.code : "invalid_value",
      message: failure.message,
    });
  }
  const applied = new Map<string, number>();
  for (const identifier of Object.keys(detail.applied)) {
    applied.set(identifier, Number(detail.applied[identifier]));
  }
  return new StateError(code, message, { cause: connectError, failures, applied });
}

/** What {@link stateErrorOf} knows about the call besides the error. */
export interface TranslationContext {
  /** The provider was closed while the call was in flight. */
  readonly closed?: boolean;
  /** The server's address, for `unavailable` messages. */
  readonly target?: string;
}

function exactCode(detailCode: string | undefined, trailerCode: string | null, status: Code): StateErrorCode {
  if (isStateErrorCode(detailCode)) return detailCode;
  if (isStateErrorCode(trailerCode)) return trailerCode;
  switch (status) {
    // connect-node reports a reset connection (ECONNRESET) as ABORTED; the server always sends
    // its exact code with ABORTED, so an ABORTED without one came from the network.
    case Code.Aborted:
    // INTERNAL or UNKNOWN without a statebridge code means the server or the transport broke,
    // not that the request was refused.
    case Code.Internal:
    case Code.Unknown:
    // A deadline that passed says the server did not answer in time.
    case Code.DeadlineExceeded:
      return "unavailable";
    default:
      return stateCodeOfGrpcStatus(status);
  }
}

function readDetail(error: ConnectError) {
  try {
    return error.findDetails(ErrorDetailSchema)[0];
  } catch {
    // Undecodable details leave the trailer and the status to speak.
    return undefined;
  }
}

function describeStatus(code: Code): string {
  return `the bridge-server call failed with gRPC status ${Code[code] ?? code}`;
}
