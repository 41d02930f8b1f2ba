import * as http2 from "node:http2";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import {
  createEnvelopeReader,
  encodeEnvelope,
  type ResponseHead,
  readResponseHead,
  receiveLimitError,
  resetError,
  trailerError,
} from "@statebridge/grpc-wire";
import { settleVerifyOnClose } from "./session-verify.js";

/** An HTTP/2 connection on which gRPC streams are opened directly, without connect's pipeline. */
export interface GrpcConnection {
  /** The connection (connect-node's), shared with the unary calls and any connect transport. */
  readonly sessionManager: Http2SessionManager;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /**
   * Asked for headers to send with each stream it opens, besides the protocol's own (which
   * win): BridgedState's trace context. Default: none.
   */
  readonly extraHeaders?: () => Readonly<Record<string, string>>;
  /**
   * The path of the server's URL (`/prefix` of `http://host/prefix`), put before every
   * method's path as connect's transport does, for a server behind a path-routing proxy.
   * Default: none.
   */
  readonly pathPrefix?: string;
  /**
   * The largest response message accepted, in bytes: a larger one fails the call with
   * `resource_exhausted` (see `receiveLimitError`) from its envelope header, before its body
   * is buffered. Default: any.
   */
  readonly maxReceiveBytes?: number;
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
   * Called for every chunk of response bytes, before the messages it completes: proof that
   * the stream is alive while a large message is still arriving.
   */
  onReceive?(bytes: number): void;
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

/**
 * Opens a gRPC call with streamed responses on an HTTP/2 stream of `connection`: request
 * messages are written as length-prefixed envelopes as they are sent; response envelopes are
 * cut from the DATA chunks as they arrive (an envelope may span chunks, a chunk may hold
 * several; each byte is copied at most once) and each is decoded and handed to `onMessage` at
 * once. A message larger than `connection.maxReceiveBytes` fails the call from its header.
 * The end of the call is read with connect's own `validateResponse` and `validateTrailer`, so
 * that a failure carries the same code, message, metadata and details a connect client would
 * report, and a reset stream is worded as connect-node words it.
 */
export function openGrpcStream<Output extends DescMessage>(
  connection: GrpcConnection,
  path: string,
  output: Output,
  handlers: GrpcStreamHandlers<Output>,
): GrpcStream {
  const { sessionManager } = connection;
  settleVerifyOnClose(sessionManager);
  const decode = handlers.decode ?? ((bytes: Uint8Array) => fromBinary(output, bytes));
  const headers: http2.OutgoingHttpHeaders = {
    ...connection.extraHeaders?.(),
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
  let head: ResponseHead | undefined;
  let trailers: http2.IncomingHttpHeaders | undefined;
  const envelopes = createEnvelopeReader(
    {
      onEnvelope(bytes, compressed) {
        if (compressed) {
          finish(
            new ConnectError(
              "received compressed envelope, but do not know how to decompress",
              Code.Internal,
            ),
          );
          return;
        }
        let message: MessageShape<Output>;
        try {
          message = decode(bytes);
        } catch (error) {
          finish(new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal));
          return;
        }
        handlers.onMessage(message);
      },
      onOversize(length, limit) {
        finish(receiveLimitError(length, limit));
      },
    },
    connection.maxReceiveBytes === undefined ? {} : { maxMessageBytes: connection.maxReceiveBytes },
  );

  function finish(error: ConnectError | undefined): void {
    if (finished) return;
    finished = true;
    envelopes.stop();
    if (stream !== undefined && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    handlers.onEnd(error);
  }

  function onHeaders(received: http2.IncomingHttpHeaders): void {
    responseHeaders = received;
    const read = readResponseHead(received);
    if (read instanceof ConnectError) finish(read);
    else if (read.headerError !== undefined) finish(read.headerError);
    else head = read;
  }

  function onData(chunk: Buffer): void {
    if (stream !== undefined) sessionManager.notifyResponseByteRead(stream);
    if (finished) return;
    handlers.onReceive?.(chunk.byteLength);
    envelopes.push(chunk);
  }

  function onClose(): void {
    if (finished) return;
    const rstCode = (stream as http2.ClientHttp2Stream).rstCode;
    if (responseHeaders === undefined || head === undefined) {
      finish(
        resetError(rstCode) ??
          new ConnectError("the stream closed before the server answered", Code.Unavailable),
      );
      return;
    }
    if (head.statusInHeaders) {
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
    if (envelopes.incomplete) {
      finish(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
      return;
    }
    finish(trailerError(trailers, responseHeaders, head));
  }

  sessionManager.request("POST", `${connection.pathPrefix ?? ""}${path}`, headers, {}).then(
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
      const framed = encodeEnvelope(message);
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
      envelopes.stop();
      if (stream !== undefined && !stream.closed) {
        stream.on("error", () => {});
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
