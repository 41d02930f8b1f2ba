import type { ConnectError } from "@connectrpc/connect";
import { StateError } from "@statebridge/state-provider";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";

/**
 * Enforces the largest request message before connect sees it, so that an oversize request is
 * refused as a statebridge `resource_exhausted` (trailer and ErrorDetail included) rather than
 * as connect's bare RESOURCE_EXHAUSTED, which it raises before any interceptor could translate
 * it.
 *
 * Enveloped protocols (gRPC, gRPC-Web, Connect streaming) are checked per message by reading
 * each 5-byte envelope header as it passes, before the message body arrives; a Connect unary
 * body is checked by its `content-length` and by counting. A compressed message is checked
 * after decompression by connect itself, with the same limit, through compressions wrapped by
 * `boundDecompression`.
 *
 * @param body - the request body as connect-node reads it.
 * @param contentType - the request's content type, which tells whether messages are enveloped.
 * @param contentLength - the request's `content-length` header, if any.
 * @param maxBytes - the largest message accepted.
 */
export function limitRequestBody(
  body: AsyncIterable<Uint8Array>,
  contentType: string | undefined,
  contentLength: string | undefined,
  maxBytes: number,
  logger: BridgeServerLogger,
): AsyncIterable<Uint8Array> {
  const enveloped =
    contentType !== undefined &&
    (contentType.startsWith("application/grpc") || contentType.startsWith("application/connect+"));
  return {
    [Symbol.asyncIterator]() {
      const source = body[Symbol.asyncIterator]();
      const refuse = (size: number, exact: boolean) => oversizeRequestError(size, exact, maxBytes, logger);
      if (!enveloped && contentLength !== undefined) {
        const declared = Number(contentLength);
        if (declared > maxBytes) {
          const error = refuse(declared, true);
          return {
            next: () => Promise.reject(error),
            return: (value?: unknown) => {
              void source.return?.();
              return Promise.resolve({ done: true as const, value });
            },
          };
        }
      }
      // Enveloped: bytes of the current envelope header seen so far, and bytes of the current
      // message still to come. Unenveloped: the total so far.
      const header = new Uint8Array(5);
      let headerBytes = 0;
      let messageRemaining = 0;
      let total = 0;
      const check = (chunk: Uint8Array): void => {
        if (!enveloped) {
          total += chunk.byteLength;
          if (total > maxBytes) throw refuse(total, false);
          return;
        }
        let offset = 0;
        while (offset < chunk.byteLength) {
          if (messageRemaining > 0) {
            const taken = Math.min(messageRemaining, chunk.byteLength - offset);
            messageRemaining -= taken;
            offset += taken;
            continue;
          }
          header[headerBytes++] = chunk[offset++]!;
          if (headerBytes === 5) {
            headerBytes = 0;
            const length = ((header[1]! << 24) >>> 0) + (header[2]! << 16) + (header[3]! << 8) + header[4]!;
            if (length > maxBytes) throw refuse(length, true);
            messageRemaining = length;
          }
        }
      };
      return {
        async next() {
          const result = await source.next();
          if (result.done !== true) check(result.value);
          return result;
        },
        return(value?: unknown) {
          void source.return?.();
          return Promise.resolve({ done: true as const, value });
        },
      };
    },
  };
}

/**
 * The `resource_exhausted` error of a request message larger than `maxBytes`, as every path
 * of the server words it.
 * @param size - the message's size: exact when declared (envelope header, content-length), a
 *   lower bound when counted.
 * @param exact - whether `size` is exact; when not, the message says "more than" the limit.
 */
export function oversizeRequestError(
  size: number,
  exact: boolean,
  maxBytes: number,
  logger: BridgeServerLogger,
): ConnectError {
  return toConnectError(
    new StateError(
      "resource_exhausted",
      `request message of ${exact ? "" : "more than "}${exact ? size : maxBytes} bytes is larger than ` +
        `the server's limit of ${maxBytes} bytes (--max-request-bytes)`,
    ),
    logger,
  );
}
