import * as http2 from "node:http2";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import type { Http2SessionManager } from "@connectrpc/connect-node";

/** An HTTP/2 connection on which gRPC streams are opened directly, without connect's pipeline. */
export interface GrpcConnection {
  /** The connection (connect-node's), shared with the unary calls and any connect transport. */
  readonly sessionManager: Http2SessionManager;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
}

/** What a {@link GrpcStream} reports. */
export interface GrpcStreamHandlers<Output extends DescMessage> {
  /**
   * Decodes one response message, instead of `fromBinary` of the output schema: to reuse work
   * across messages that share a part. It throws for malformed bytes.
   */
  decode?(bytes: Uint8Array): MessageShape<Output>;
  /** Called once per response message, in order, synchronously as its bytes arrive. */
  onMessage(message: MessageShape<Output>): void;
  /**
   * Called once when the stream is over: with `undefined` for a clean end (status OK), or with
   * the `ConnectError` a connect client would have thrown. Not called after `cancel()`.
   */
  onEnd(error: ConnectError | undefined): void;
}

/** One gRPC call with a stream of responses, open on an HTTP/2 stream. */
export interface GrpcStream {
  /** Sends one request message, already serialized. Ignored once the stream ended. */
  send(message: Uint8Array): void;
  /** Half-closes the request side (no more requests). */
  end(): void;
  /** Resets the stream (RST_STREAM CANCEL); `onEnd` is not called. Idempotent. */
  cancel(): void;
  /** Stops reading responses for now: HTTP/2 flow control then holds the server back. */
  pause(): void;
  /** Reads responses again after {@link GrpcStream.pause}. */
  resume(): void;
}

const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b0000_0001;
const GRPC_CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);

/**
 * Opens a gRPC call with streamed responses on an HTTP/2 stream of `connection`: request
 * messages are written as length-prefixed envelopes as they are sent; response envelopes are
 * cut from the DATA chunks as they arrive (an envelope may span chunks, a chunk may hold
 * several) and each is decoded and handed to `onMessage` at once. The end of the call is read
 * with connect's own `validateResponse` and `validateTrailer`, so that a failure carries the
 * same code, message, metadata and details a connect client would report, and a reset stream
 * is worded as connect-node words it.
 */
export function openGrpcStream<Output extends DescMessage>(
  connection: GrpcConnection,
  path: string,
  output: Output,
  handlers: GrpcStreamHandlers<Output>,
): GrpcStream {
  const { sessionManager } = connection;
  const decode = handlers.decode ?? ((bytes: Uint8Array) => fromBinary(output, bytes));
  const headers: http2.OutgoingHttpHeaders = {
    "content-type": "application/grpc+proto",
    te: "trailers",
  };
  if (connection.token !== undefined) headers.authorization = `Bearer ${connection.token}`;

  let stream: http2.ClientHttp2Stream | undefined;
  let finished = false;
  let endRequested = false;
  let paused = false;
  const waiting: Buffer[] = [];
  let responseHeaders: http2.IncomingHttpHeaders | undefined;
  let webHeaders: Headers | undefined;
  /** The call's status came in the headers (a trailers-only response). */
  let statusInHeaders = false;
  let trailers: http2.IncomingHttpHeaders | undefined;
  // Bytes of an envelope not yet complete.
  let pending: Buffer | undefined;

  function finish(error: ConnectError | undefined): void {
    if (finished) return;
    finished = true;
    if (stream !== undefined && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    handlers.onEnd(error);
  }

  function onHeaders(received: http2.IncomingHttpHeaders): void {
    responseHeaders = received;
    const status = Number(received[":status"] ?? 0);
    const contentType = received["content-type"];
    const encoding = received["grpc-encoding"];
    statusInHeaders = received["grpc-status"] !== undefined;
    const plain =
      status === 200 &&
      typeof contentType === "string" &&
      GRPC_CONTENT_TYPES.has(contentType) &&
      !statusInHeaders &&
      (encoding === undefined || encoding === "identity");
    if (plain) return;
    webHeaders = toWebHeaders(received);
    try {
      const { headerError } = validateResponse(status, webHeaders);
      if (headerError !== undefined) {
        finish(headerError);
        return;
      }
    } catch (error) {
      finish(ConnectError.from(error));
      return;
    }
    if (encoding !== undefined && encoding !== "identity") {
      finish(
        new ConnectError(`unsupported response encoding "${String(encoding)}"`, Code.Internal, webHeaders),
      );
    }
  }

  function onData(chunk: Buffer): void {
    if (stream !== undefined) sessionManager.notifyResponseByteRead(stream);
    if (finished) return;
    let bytes = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let offset = 0;
    while (bytes.byteLength - offset >= ENVELOPE_HEADER_BYTES) {
      const flags = bytes[offset] as number;
      const length = bytes.readUInt32BE(offset + 1);
      const start = offset + ENVELOPE_HEADER_BYTES;
      if (bytes.byteLength - start < length) break;
      if ((flags & COMPRESSED_FLAG) === COMPRESSED_FLAG) {
        finish(
          new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal),
        );
        return;
      }
      let message: MessageShape<Output>;
      try {
        // A Uint8Array view, not a Buffer: bytes fields then decode as Uint8Array views.
        message = decode(new Uint8Array(bytes.buffer, bytes.byteOffset + start, length));
      } catch (error) {
        finish(new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal));
        return;
      }
      offset = start + length;
      handlers.onMessage(message);
      if (finished) return;
    }
    if (offset < bytes.byteLength) {
      // The rest of an envelope comes with a later chunk; keep a copy, as Node may reuse
      // the chunk's memory.
      bytes = bytes.subarray(offset);
      pending = Buffer.from(bytes);
    }
  }

  function onClose(): void {
    if (finished) return;
    const rstCode = (stream as http2.ClientHttp2Stream).rstCode;
    if (responseHeaders === undefined) {
      finish(
        resetError(rstCode) ??
          new ConnectError("the stream closed before the server answered", Code.Unavailable),
      );
      return;
    }
    if (statusInHeaders) {
      finish(undefined);
      return;
    }
    if (trailers === undefined) {
      const reset = resetError(rstCode);
      if (reset !== undefined) {
        finish(reset);
        return;
      }
    }
    if (pending !== undefined) {
      finish(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
      return;
    }
    if (trailers?.["grpc-status"] === "0") {
      finish(undefined);
      return;
    }
    try {
      validateTrailer(toWebHeaders(trailers ?? {}), webHeaders ?? toWebHeaders(responseHeaders));
    } catch (error) {
      finish(ConnectError.from(error));
      return;
    }
    finish(undefined);
  }

  sessionManager.request("POST", path, headers, {}).then(
    (opened) => {
      if (finished) {
        // Nobody waits for this stream any more: a closing connection's error must not
        // escape as an uncaught one.
        opened.on("error", () => {});
        opened.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      stream = opened;
      opened.on("response", onHeaders);
      opened.on("data", onData);
      opened.on("trailers", (received) => {
        trailers = received;
      });
      opened.on("error", (error: Error & { code?: unknown }) => {
        // A server that answered before reading the whole request makes the end of our
        // write fail: its answer, not that failure, is the outcome.
        if (opened.writableEnded && error.code === "ERR_STREAM_WRITE_AFTER_END") return;
        if (responseHeaders === undefined || trailers === undefined) {
          const reset = resetError(opened.rstCode);
          if (reset !== undefined && error.code === "ERR_HTTP2_STREAM_ERROR") {
            finish(reset);
            return;
          }
        }
        finish(ConnectError.from(error, Code.Unavailable));
      });
      opened.on("close", onClose);
      if (paused) opened.pause();
      for (const message of waiting) opened.write(message);
      waiting.length = 0;
      if (endRequested) opened.end();
    },
    (error: unknown) => finish(ConnectError.from(error, Code.Unavailable)),
  );

  return {
    send(message) {
      if (finished || endRequested) return;
      const framed = envelope(message);
      if (stream === undefined) waiting.push(framed);
      else stream.write(framed);
    },
    end() {
      if (finished || endRequested) return;
      endRequested = true;
      stream?.end();
    },
    pause() {
      paused = true;
      stream?.pause();
    },
    resume() {
      paused = false;
      stream?.resume();
    },
    cancel() {
      if (finished) return;
      finished = true;
      if (stream !== undefined && !stream.closed) {
        stream.on("error", () => {});
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    },
  };
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
function resetError(rstCode: number | undefined): ConnectError | undefined {
  if (rstCode === undefined) return undefined;
  const known = RESET_CODES.get(rstCode);
  if (known === undefined) return undefined;
  const [name, code] = known;
  return new ConnectError(`http/2 stream closed with error code ${name} (0x${rstCode.toString(16)})`, code);
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
