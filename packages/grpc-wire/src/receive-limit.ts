import { Code, ConnectError } from "@connectrpc/connect";

const RECEIVE_LIMIT = Symbol.for("@statebridge/grpc-wire/receive-limit");

/**
 * The error of a client that refused a response message larger than its maximum receive size
 * (`maxReceiveBytes`): RESOURCE_EXHAUSTED, naming the message's size and the limit.
 */
export function receiveLimitError(length: number, maxReceiveBytes: number): ConnectError {
  const error = new ConnectError(
    `a response message of ${length} bytes is larger than the maximum receive size of ${maxReceiveBytes} bytes (maxReceiveBytes)`,
    Code.ResourceExhausted,
  );
  Object.defineProperty(error, RECEIVE_LIMIT, { value: true });
  return error;
}

/**
 * Whether `error` (or its `cause`) is a {@link receiveLimitError}: a watch must not reopen a
 * stream for it, since the same message would come again. Works across copies of the package.
 */
export function isReceiveLimitError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if ((current as { [RECEIVE_LIMIT]?: unknown })[RECEIVE_LIMIT] === true) return true;
    current = current.cause;
  }
  return false;
}
