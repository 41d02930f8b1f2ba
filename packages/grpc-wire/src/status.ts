import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus, validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";

/** The content types of binary gRPC, the only ones the direct paths speak. */
export const GRPC_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "application/grpc",
  "application/grpc+proto",
]);

/** The trailers of a call that succeeded. */
export const SUCCESS_TRAILERS: Readonly<Record<string, string>> = Object.freeze({ "grpc-status": "0" });

/** The trailers connect sends for `error` (status, message, details, metadata): built by connect's own `setTrailerStatus`. */
export function trailersOf(error: ConnectError): Record<string, string> {
  const trailers: Record<string, string> = {};
  setTrailerStatus(new Headers(), error).forEach((value, name) => {
    trailers[name] = value;
  });
  return trailers;
}

/** Node's HTTP/2 headers as web `Headers`, without the pseudo-headers. */
export function toWebHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) web.append(name, item);
    else web.append(name, String(value));
  }
  return web;
}

/** The response headers of a gRPC call, as a client reads them. */
export interface ResponseHead {
  /** The call's status came in the headers (a trailers-only response): no trailers follow. */
  readonly statusInHeaders: boolean;
  /** The error status the headers carry, if any. */
  readonly headerError: ConnectError | undefined;
  /** The headers as web `Headers`; made only for headers that are not the usual ones. */
  readonly webHeaders: Headers | undefined;
}

const PLAIN_HEAD: ResponseHead = Object.freeze({
  statusInHeaders: false,
  headerError: undefined,
  webHeaders: undefined,
});

/**
 * Reads the response headers of a call as connect's client does (`validateResponse`): the
 * usual ones (200, a gRPC content type, no status, no compression) cost one comparison each.
 * @returns the error that ends the call at once (an HTTP status, an unsupported content type
 *   or response encoding, which the direct paths never offer), or what the headers say.
 */
export function readResponseHead(headers: http2.IncomingHttpHeaders): ResponseHead | ConnectError {
  // Node gives the status as a number, whatever the header type says.
  const status = Number(headers[":status"] ?? 0);
  const contentType = headers["content-type"];
  const encoding = headers["grpc-encoding"];
  const statusInHeaders = headers["grpc-status"] !== undefined;
  const plain =
    status === 200 &&
    typeof contentType === "string" &&
    GRPC_CONTENT_TYPES.has(contentType) &&
    !statusInHeaders &&
    (encoding === undefined || encoding === "identity");
  if (plain) return PLAIN_HEAD;
  const webHeaders = toWebHeaders(headers);
  let headerError: ConnectError | undefined;
  try {
    headerError = validateResponse(status, webHeaders).headerError;
  } catch (error) {
    return ConnectError.from(error);
  }
  if (encoding !== undefined && encoding !== "identity") {
    return new ConnectError(`unsupported response encoding "${String(encoding)}"`, Code.Internal, webHeaders);
  }
  return { statusInHeaders, headerError, webHeaders };
}

/**
 * The error a finished call's trailers carry, read as connect's client reads them
 * (`validateTrailer`: code, message, details, and the headers and trailers as metadata), or
 * `undefined` for status OK. A response with neither a trailer status nor a header status is
 * `internal` ("missing status").
 */
export function trailerError(
  trailers: http2.IncomingHttpHeaders | undefined,
  headers: http2.IncomingHttpHeaders,
  head: ResponseHead,
): ConnectError | undefined {
  if (trailers?.["grpc-status"] === "0" && head.headerError === undefined) return undefined;
  try {
    validateTrailer(toWebHeaders(trailers ?? {}), head.webHeaders ?? toWebHeaders(headers));
  } catch (error) {
    return ConnectError.from(error);
  }
  return undefined;
}
