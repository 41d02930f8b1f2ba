import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { ERROR_CODE_TRAILER, GRPC_STATUS_OF } from "@statebridge/grpc-wire";
import { ErrorDetailSchema } from "@statebridge/proto";
import {
  codePointLength,
  isStateError,
  StateError,
  type StateErrorFailure,
} from "@statebridge/state-provider";
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

/**
 * How much of a response's metadata a status may take, counted as HTTP/2 and grpcio count it
 * (name + value + 32 bytes per field): 4 KiB, less room for the response's other headers.
 * grpcio refuses a response whose metadata passes its limit (8 KiB by default, often set
 * lower), and the status is lost with it.
 */
export const MAX_STATUS_METADATA_BYTES = 4096 - 512;

/** Below this many characters in all, a message cannot take the status past the limit. */
const ALWAYS_FITS_CHARACTERS = 150;

/**
 * Builds the ConnectError of a domain error. Its message, failures and applied identifiers
 * echo what the client sent, which may be long: they are shortened, step by step, until the
 * status (`grpc-message`, `statebridge-error-code` and `grpc-status-details-bin`, encoded as
 * sent) fits in {@link MAX_STATUS_METADATA_BYTES}. The code is never lost.
 */
export function connectErrorOfStateError(error: StateError, revision?: number): ConnectError {
  let connectError = buildConnectError(error, error, revision);
  if (echoedCharacters(error) <= ALWAYS_FITS_CHARACTERS) return connectError;
  for (let level = 0; statusMetadataBytes(connectError) > MAX_STATUS_METADATA_BYTES; level++) {
    connectError = buildConnectError(shortened(error, level), error, revision);
    if (level === MAX_SHORTENING_LEVEL) break;
  }
  return connectError;
}

function buildConnectError(error: StateError, cause: StateError, revision: number | undefined): ConnectError {
  return new ConnectError(
    error.message,
    GRPC_STATUS_OF[error.code] as Code,
    { [ERROR_CODE_TRAILER]: error.code },
    [{ desc: ErrorDetailSchema, value: errorDetailOf(error, revision) }],
    cause,
  );
}

/** The size of the status metadata of `error`, encoded as connect sends it. */
export function statusMetadataBytes(error: ConnectError): number {
  let bytes = 0;
  setTrailerStatus(new Headers(), error).forEach((value, name) => {
    bytes += name.length + value.length + 32;
  });
  return bytes;
}

/** The characters of a domain error's text that a status carries. */
function echoedCharacters(error: StateError): number {
  let characters = error.message.length;
  for (const [identifier, failure] of error.failures)
    characters += identifier.length + failure.message.length;
  for (const identifier of error.applied.keys()) characters += identifier.length;
  return characters;
}

/** Levels of {@link shortened}: the last one fits whatever the input. */
const MAX_SHORTENING_LEVEL = 5;

/**
 * A copy of `error` with its text shortened by `level` (0: long words cut to 64 characters,
 * at most 32 failures and 64 applied identifiers; each level halves them). Past the kept
 * failures the message says how many more there were.
 */
function shortened(error: StateError, level: number): StateError {
  const wordLength = Math.max(8, 64 >> level);
  const messageLength = Math.max(64, 1024 >> level);
  const keptFailures = level === MAX_SHORTENING_LEVEL ? 0 : 32 >> level;
  const keptApplied = level === MAX_SHORTENING_LEVEL ? 0 : 64 >> level;
  const shorten = (text: string, length: number) => truncate(shortenWords(text, wordLength), length);
  const failures = new Map<string, StateErrorFailure>();
  for (const [identifier, failure] of error.failures) {
    if (failures.size === keptFailures) break;
    failures.set(shorten(identifier, 256), { code: failure.code, message: shorten(failure.message, 256) });
  }
  const applied = new Map<string, number>();
  for (const [identifier, version] of error.applied) {
    if (applied.size === keptApplied) break;
    applied.set(shorten(identifier, 256), version);
  }
  const omitted = error.failures.size - failures.size + error.applied.size - applied.size;
  const note = omitted > 0 ? ` (${omitted} more failed or applied identifiers not shown)` : "";
  return new StateError(error.code, `${shorten(error.rawMessage, messageLength)}${note}`, {
    failures,
    applied,
  });
}

/** Cuts every run of more than `length` characters other than spaces and quotes, saying how long it was. */
function shortenWords(text: string, length: number): string {
  return text.replace(/[^\s"'`]+/g, (word) =>
    word.length <= length ? word : `${truncate(word, length)}(${codePointLength(word)} characters)`,
  );
}

/** The first `length` UTF-16 units of `text`, with an ellipsis when cut; never half a pair. */
function truncate(text: string, length: number): string {
  if (text.length <= length) return text;
  let end = length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
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
