import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { createDeadlineWatchdog, type DeadlineWatchdog } from "@statebridge/state-provider";
import type { CallOptions } from "./call-policy.js";

/**
 * Makes one unary call and resolves with the response message. It fails with a
 * `ConnectError`, as a connect client does, so that the provider's one error seam
 * (`stateErrorOf`) reads every failure the same way whichever caller made the call.
 */
export type UnaryCaller = <Input extends DescMessage, Output extends DescMessage>(
  method: DescMethodUnary<Input, Output>,
  request: MessageInitShape<Input>,
  options: CallOptions,
) => Promise<MessageShape<Output>>;

/** A {@link UnaryCaller} on any connect transport: the one used with a transport the user gave. */
export function createConnectUnaryCaller(transport: Transport): UnaryCaller {
  return async (method, request, options) => {
    const response = await transport.unary(method, options.signal, options.timeoutMs, undefined, request);
    return response.message;
  };
}

/** Options of {@link createGrpcUnaryCaller}. */
export interface GrpcUnaryCallerOptions {
  /** The connection, shared with the provider's connect transport (watch streams). */
  readonly sessionManager: Http2SessionManager;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Shared deadline timer; by default one of its own. */
  readonly watchdog?: DeadlineWatchdog;
}

const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b0000_0001;
const GRPC_CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);
/** The longest `grpc-timeout` value in milliseconds: the header takes at most 8 digits. */
const MAX_TIMEOUT_DIGITS_MS = 99_999_999;

/** A call in flight, as the provider's abort signal sees it. */
interface PendingCall {
  fail(error: ConnectError): void;
}

/**
 * Creates a {@link UnaryCaller} that speaks gRPC directly on an HTTP/2 stream of
 * `sessionManager`'s connection. A connect client spends most of a call's client-side CPU in
 * its generic pipeline (async iterables, per-call abort controllers, header objects); this
 * caller writes the request envelope, reads the response envelope and its trailers, and
 * builds a `ConnectError` only when something went wrong — with connect's own
 * `validateResponse` and `validateTrailer`, so that failures carry the same code, message,
 * metadata and details a connect client would report.
 *
 * The connection stays `sessionManager`'s: it opens it, re-verifies it after a long idle
 * period, and keeps it alive with PINGs while calls are open. Every call's deadline is
 * watched by one shared timer; it is also sent as `grpc-timeout`. An aborted `signal` fails
 * every call in flight (one listener per signal, not one per call). Responses are neither
 * compressed nor expected to be: the caller offers no `grpc-accept-encoding`.
 */
export function createGrpcUnaryCaller(options: GrpcUnaryCallerOptions): UnaryCaller {
  const { sessionManager } = options;
  const watchdog = options.watchdog ?? createDeadlineWatchdog();
  const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  const pending = new Set<PendingCall>();
  const watchedSignals = new WeakSet<AbortSignal>();
  const paths = new WeakMap<DescMethodUnary, string>();

  function pathOf(method: DescMethodUnary): string {
    let path = paths.get(method);
    if (path === undefined) {
      path = `/${method.parent.typeName}/${method.name}`;
      paths.set(method, path);
    }
    return path;
  }

  function watchSignal(signal: AbortSignal): void {
    if (watchedSignals.has(signal)) return;
    watchedSignals.add(signal);
    signal.addEventListener(
      "abort",
      () => {
        const error = ConnectError.from(signal.reason, Code.Canceled);
        for (const call of [...pending]) call.fail(error);
      },
      { once: true },
    );
  }

  return (method, request, callOptions) => {
    const { signal, timeoutMs } = callOptions;
    if (signal.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
    watchSignal(signal);
    let body: Buffer;
    try {
      body = envelope(toBinary(method.input, create(method.input, request)));
    } catch (error) {
      return Promise.reject(new ConnectError(`serialize binary: ${messageOf(error)}`, Code.Internal));
    }
    const headers: http2.OutgoingHttpHeaders = {
      "content-type": "application/grpc+proto",
      te: "trailers",
      "grpc-timeout": grpcTimeout(timeoutMs),
    };
    if (authorization !== undefined) headers.authorization = authorization;

    return new Promise<MessageShape<typeof method.output>>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream | undefined;
      let settled = false;
      let responseHeaders: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let receivedBytes = 0;

      const call: PendingCall = {
        fail(error) {
          if (settled) return;
          settle();
          if (stream !== undefined && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(error);
        },
      };
      const deadline = watchdog.watch(timeoutMs, () =>
        call.fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      );
      const settle = (): void => {
        settled = true;
        pending.delete(call);
        watchdog.cancel(deadline);
      };
      pending.add(call);

      const onClose = (): void => {
        if (settled) return;
        settle();
        const outcome = readResponse(
          method.output,
          responseHeaders,
          trailers,
          chunks,
          receivedBytes,
          (stream as http2.ClientHttp2Stream).rstCode,
        );
        if (outcome instanceof ConnectError) reject(outcome);
        else resolve(outcome.message as MessageShape<typeof method.output>);
      };

      sessionManager.request("POST", pathOf(method), headers, {}).then(
        (opened) => {
          if (settled) {
            // Closing the connection destroys this stream with the closing error: nobody is
            // waiting for it any more, so the error must not escape as an uncaught one.
            opened.on("error", () => {});
            opened.close(http2.constants.NGHTTP2_CANCEL);
            return;
          }
          stream = opened;
          opened.on("response", (received) => {
            responseHeaders = received;
          });
          opened.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            receivedBytes += chunk.byteLength;
            sessionManager.notifyResponseByteRead(opened);
          });
          opened.on("trailers", (received) => {
            trailers = received;
          });
          opened.on("error", (error: Error & { code?: unknown }) => {
            // A server that answered before reading the whole request (a refusal) makes the
            // end of our write fail: its answer, not that failure, is the outcome.
            if (opened.writableEnded && error.code === "ERR_STREAM_WRITE_AFTER_END") return;
            call.fail(transportError(error));
          });
          opened.on("close", onClose);
          opened.end(body);
        },
        (error: unknown) => call.fail(transportError(error)),
      );
    });
  };
}

/**
 * Reads a finished call: its message, or the error a connect client would report for it, in
 * the order connect checks — response headers, the stream's end, the message envelopes, the
 * trailers (status, message, details), then whether a message came at all.
 */
function readResponse(
  schema: DescMessage,
  headers: http2.IncomingHttpHeaders | undefined,
  trailers: http2.IncomingHttpHeaders | undefined,
  chunks: readonly Buffer[],
  receivedBytes: number,
  rstCode: number,
): ConnectError | { readonly message: unknown } {
  if (headers === undefined) {
    return (
      resetError(rstCode) ??
      new ConnectError("the stream closed before the server answered", Code.Unavailable)
    );
  }
  // Node gives the status as a number, whatever the header type says.
  const status = Number(headers[":status"] ?? 0);
  const contentType = headers["content-type"];
  const encoding = headers["grpc-encoding"];
  const plain =
    status === 200 &&
    typeof contentType === "string" &&
    GRPC_CONTENT_TYPES.has(contentType) &&
    headers["grpc-status"] === undefined &&
    (encoding === undefined || encoding === "identity");
  let headerError: ConnectError | undefined;
  let webHeaders: Headers | undefined;
  if (!plain) {
    webHeaders = toWebHeaders(headers);
    try {
      headerError = validateResponse(status, webHeaders).headerError;
    } catch (error) {
      return ConnectError.from(error);
    }
    if (encoding !== undefined && encoding !== "identity") {
      return new ConnectError(
        `unsupported response encoding "${String(encoding)}"`,
        Code.Internal,
        webHeaders,
      );
    }
  }
  if (trailers === undefined && headers["grpc-status"] === undefined) {
    const reset = resetError(rstCode);
    if (reset !== undefined) return reset;
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, receivedBytes);
  let message: unknown;
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (bytes.byteLength - offset < ENVELOPE_HEADER_BYTES) {
      return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
    const flags = bytes[offset] as number;
    const length = bytes.readUInt32BE(offset + 1);
    const start = offset + ENVELOPE_HEADER_BYTES;
    if (bytes.byteLength - start < length) {
      return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
    if ((flags & COMPRESSED_FLAG) === COMPRESSED_FLAG) {
      return new ConnectError(
        "received compressed envelope, but do not know how to decompress",
        Code.Internal,
      );
    }
    if (message !== undefined) {
      return new ConnectError(
        "protocol error: received extra output message for unary method",
        Code.Unimplemented,
      );
    }
    try {
      // A Uint8Array view, not a Buffer: bytes fields then decode as Uint8Array views, whose
      // slice() copies (a Buffer's slice() does not), as the packed-number decoder expects.
      message = fromBinary(schema, new Uint8Array(bytes.buffer, bytes.byteOffset + start, length));
    } catch (error) {
      return new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal);
    }
    offset = start + length;
  }
  if (trailers?.["grpc-status"] !== "0" || headerError !== undefined) {
    const webTrailers = toWebHeaders(trailers ?? {});
    try {
      validateTrailer(webTrailers, webHeaders ?? toWebHeaders(headers));
    } catch (error) {
      return ConnectError.from(error);
    }
  }
  if (message === undefined) {
    return (
      headerError ??
      new ConnectError(
        "protocol error: missing output message for unary method",
        trailers?.["grpc-status"] === undefined ? Code.Unknown : Code.Unimplemented,
      )
    );
  }
  if (headerError !== undefined) {
    return new ConnectError(
      "protocol error: received output message for unary method with error status",
      Code.Unknown,
    );
  }
  return { message };
}

/** HTTP/2 error codes a reset maps to a gRPC status, as connect-node maps them. */
const RESET_CODES: ReadonlyMap<number, readonly [name: string, code: Code]> = new Map([
  [0x1, ["PROTOCOL_ERROR", Code.Internal]],
  [0x2, ["INTERNAL_ERROR", Code.Internal]],
  [0x3, ["FLOW_CONTROL_ERROR", Code.Internal]],
  [0x4, ["SETTINGS_TIMEOUT", Code.Internal]],
  [0x6, ["FRAME_SIZE_ERROR", Code.Internal]],
  [0x7, ["REFUSED_STREAM", Code.Unavailable]],
  [0x8, ["CANCEL", Code.Canceled]],
  [0x9, ["COMPRESSION_ERROR", Code.Internal]],
  [0xa, ["CONNECT_ERROR", Code.Internal]],
  [0xb, ["ENHANCE_YOUR_CALM", Code.ResourceExhausted]],
  [0xc, ["INADEQUATE_SECURITY", Code.PermissionDenied]],
  [0xd, ["HTTP_1_1_REQUIRED", Code.PermissionDenied]],
]);

/** The error of a stream reset by the peer, worded as connect-node words it; none for NO_ERROR. */
function resetError(rstCode: number): ConnectError | undefined {
  const known = RESET_CODES.get(rstCode);
  if (known === undefined) return undefined;
  const [name, code] = known;
  return new ConnectError(`http/2 stream closed with error code ${name} (0x${rstCode.toString(16)})`, code);
}

/**
 * A failure of the connection or the stream (refused, reset, gone away). connect-node reports
 * these as UNAVAILABLE, INTERNAL or ABORTED, all of which the error seam reads as
 * `unavailable`; this caller says UNAVAILABLE outright.
 */
function transportError(error: unknown): ConnectError {
  return ConnectError.from(error, Code.Unavailable);
}

function toWebHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) web.append(name, item);
    else web.append(name, String(value));
  }
  return web;
}

function grpcTimeout(timeoutMs: number): string {
  const milliseconds = Math.max(1, Math.ceil(timeoutMs));
  return milliseconds <= MAX_TIMEOUT_DIGITS_MS ? `${milliseconds}m` : `${Math.ceil(milliseconds / 1000)}S`;
}

function envelope(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + message.byteLength);
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, ENVELOPE_HEADER_BYTES);
  return framed;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
