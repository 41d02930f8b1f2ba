import * as http2 from "node:http2";
import { type DescMethodUnary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import {
  createEnvelopeReader,
  type DeadlineWatchdog,
  type EnvelopeReader,
  type EnvelopeReaderHandlers,
  type EnvelopeReaderOptions,
  readResponseHead,
  receiveLimitError,
  resetError,
  trailerError,
  type WatchedDeadline,
} from "@statebridge/grpc-wire";
import { RESPONSE_DECODERS } from "./response-decoding.js";
import type { UnaryStreamOpener } from "./unary-streams.js";

// One unary call of the direct gRPC caller (`createGrpcUnaryCaller`): its stream, what came
// back on it, and how it settles, with the checks and errors of a connect client.

/** What every call of one caller shares. */
export interface CallContext {
  readonly sessionManager: Http2SessionManager;
  readonly opener: UnaryStreamOpener;
  readonly watchdog: DeadlineWatchdog;
  readonly readerOptions: EnvelopeReaderOptions;
  readonly pending: PendingCalls;
}

/**
 * The calls in flight, for the abort signal to fail them all: a list linked through the calls,
 * as a Set churned once per call reallocates its table over and over.
 */
export class PendingCalls {
  first: GrpcUnaryCall | undefined = undefined;

  add(call: GrpcUnaryCall): void {
    call.next = this.first;
    if (this.first !== undefined) this.first.previous = call;
    this.first = call;
  }

  delete(call: GrpcUnaryCall): void {
    const { previous, next } = call;
    if (previous === undefined) {
      if (this.first === call) this.first = next;
    } else {
      previous.next = next;
    }
    if (next !== undefined) next.previous = previous;
    call.previous = undefined;
    call.next = undefined;
  }

  failAll(error: ConnectError): void {
    const calls: GrpcUnaryCall[] = [];
    for (let call = this.first; call !== undefined; call = call.next) calls.push(call);
    for (const call of calls) call.fail(error);
  }
}

function ignore(): void {}

/** What a released call reads with: nothing. */
const STOPPED_READER: EnvelopeReader = createEnvelopeReader({ onEnvelope: ignore, onOversize: ignore });
STOPPED_READER.stop();

/** The resolvers of the promise being created; see {@link captureResolvers}. */
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (reason: unknown) => void = () => {};

/** A promise executor that allocates no closure: the call takes the resolvers from here. */
function captureResolvers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * Starts a unary call of `method` with the request envelope `body`: opens its stream (on the
 * open connection, or through the manager), and settles with the response message or the
 * `ConnectError` a connect client would report.
 */
export function startUnaryCall(
  context: CallContext,
  method: DescMethodUnary,
  timeoutMs: number,
  path: string,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer,
): Promise<unknown> {
  const promise = new Promise(captureResolvers);
  new GrpcUnaryCall(context, method, timeoutMs, capturedResolve, capturedReject).start(path, headers, body);
  return promise;
}

/**
 * One unary call: its stream, what came back on it, and its settlement. It reads what
 * connect's checks need — the response headers, the first message and whether a second one
 * came, the trailers — and settles once, when the stream closes or the call fails.
 */
export class GrpcUnaryCall implements EnvelopeReaderHandlers {
  private resolve: (value: unknown) => void;
  private reject: (reason: unknown) => void;
  private reader: EnvelopeReader;
  private readonly deadline: WatchedDeadline;
  private stream: http2.ClientHttp2Stream | undefined = undefined;
  /** Whether the stream was opened on the connection directly, not through the manager. */
  private direct = false;
  private settled = false;
  private responseHeaders: http2.IncomingHttpHeaders | undefined = undefined;
  private trailers: http2.IncomingHttpHeaders | undefined = undefined;
  private first: Uint8Array | undefined = undefined;
  private firstCompressed = false;
  /** Whether a second envelope came, and whether it was compressed. */
  private extra = false;
  private extraCompressed = false;
  /** The response message, once the call succeeded. */
  private message: unknown = undefined;
  /** Links of {@link PendingCalls}. */
  previous: GrpcUnaryCall | undefined = undefined;
  next: GrpcUnaryCall | undefined = undefined;

  /** Use {@link startUnaryCall}. */
  constructor(
    private readonly context: CallContext,
    private readonly method: DescMethodUnary,
    timeoutMs: number,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    this.resolve = resolve;
    this.reject = reject;
    this.reader = createEnvelopeReader(this, context.readerOptions);
    this.deadline = context.watchdog.watch(timeoutMs, () =>
      this.fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
    );
    context.pending.add(this);
  }

  /** Opens the call's stream (on the open connection, or through the manager) and sends `body`. */
  start(path: string, headers: http2.OutgoingHttpHeaders, body: Buffer): void {
    const direct = this.context.opener.openDirect(headers);
    if (direct !== undefined) {
      this.direct = true;
      this.attach(direct, body);
      return;
    }
    this.context.opener.openManaged(path, headers).then(
      (opened) => {
        if (this.settled) {
          // Closing the connection destroys this stream with the closing error: nobody is
          // waiting for it any more, so the error must not escape as an uncaught one.
          opened.on("error", () => {});
          opened.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        this.attach(opened, body);
      },
      (error: unknown) => this.fail(transportError(error)),
    );
  }

  private attach(stream: http2.ClientHttp2Stream, body: Buffer): void {
    this.stream = stream;
    stream.on("response", (headers) => {
      this.responseHeaders = headers;
    });
    stream.on("data", (chunk: Buffer) => {
      if (!this.direct) this.context.sessionManager.notifyResponseByteRead(stream);
      this.reader.push(chunk);
    });
    stream.on("trailers", (trailers) => {
      this.trailers = trailers;
    });
    stream.on("error", (error: Error & { code?: unknown }) => {
      // A server that answered before reading the whole request (a refusal) makes the end of
      // our write fail: its answer, not that failure, is the outcome.
      if (stream.writableEnded && error.code === "ERR_STREAM_WRITE_AFTER_END") return;
      this.fail(transportError(error));
    });
    stream.on("close", () => this.onClose());
    stream.end(body);
  }

  onEnvelope(message: Uint8Array, compressed: boolean): void {
    if (this.reader.messages === 1) {
      this.first = message;
      this.firstCompressed = compressed;
      return;
    }
    // A second message settles what connect reports; the rest need not be read.
    this.extra = true;
    this.extraCompressed = compressed;
    this.reader.stop();
  }

  onOversize(length: number, limit: number): void {
    this.fail(receiveLimitError(length, limit));
  }

  /** Fails the call now, resetting its stream; nothing once it settled. */
  fail(error: ConnectError): void {
    if (this.settled) return;
    this.settle();
    const stream = this.stream;
    if (stream !== undefined && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    this.reject(error);
  }

  private settle(): void {
    this.settled = true;
    this.context.pending.delete(this);
    this.context.watchdog.cancel(this.deadline);
  }

  private onClose(): void {
    if (this.direct) this.context.opener.directClosed();
    if (!this.settled) {
      this.settle();
      const error = this.readResponse((this.stream as http2.ClientHttp2Stream).rstCode);
      if (error === undefined) this.resolve(this.message);
      else this.reject(error);
    }
    this.release();
  }

  /**
   * Lets go of everything the call read or settled. Node keeps a closed stream reachable until
   * the next full collection (young-generation collections do not free it), and with it its
   * listeners and this call: whatever the call still held — the response, its promise and the
   * promise's value — would be promoted to the old generation and wait for a full collection.
   */
  private release(): void {
    this.first = undefined;
    this.message = undefined;
    this.responseHeaders = undefined;
    this.trailers = undefined;
    this.resolve = ignore;
    this.reject = ignore;
    this.reader = STOPPED_READER;
  }

  /**
   * Reads a finished call into {@link GrpcUnaryCall.message}, or returns the error a connect
   * client would report for it, in the order connect checks — response headers, the stream's
   * end, the message envelopes, the trailers (status, message, details), then whether a
   * message came at all.
   */
  private readResponse(rstCode: number): ConnectError | undefined {
    const { method, responseHeaders: headers, trailers } = this;
    if (headers === undefined) {
      return (
        resetError(rstCode) ??
        new ConnectError("the stream closed before the server answered", Code.Unavailable)
      );
    }
    const head = readResponseHead(headers);
    // Not `instanceof ConnectError`: its custom check costs a call more than Error's.
    if (head instanceof Error) return head;
    if (trailers === undefined && !head.statusInHeaders) {
      const reset = resetError(rstCode);
      if (reset !== undefined) return reset;
    }
    let message: unknown;
    if (this.first !== undefined) {
      if (this.firstCompressed) return compressedError();
      try {
        message = RESPONSE_DECODERS.get(method)?.(this.first) ?? fromBinary(method.output, this.first);
      } catch (error) {
        return new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal);
      }
    }
    if (this.extra) {
      if (this.extraCompressed) return compressedError();
      return new ConnectError(
        "protocol error: received extra output message for unary method",
        Code.Unimplemented,
      );
    }
    if (this.reader.incomplete) {
      return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
    const statusError = trailerError(trailers, headers, head);
    if (statusError !== undefined) return statusError;
    if (message === undefined) {
      return (
        head.headerError ??
        new ConnectError(
          "protocol error: missing output message for unary method",
          trailers?.["grpc-status"] === undefined ? Code.Unknown : Code.Unimplemented,
        )
      );
    }
    if (head.headerError !== undefined) {
      return new ConnectError(
        "protocol error: received output message for unary method with error status",
        Code.Unknown,
      );
    }
    this.message = message;
    return undefined;
  }
}

function compressedError(): ConnectError {
  return new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
}

/**
 * A failure of the connection or the stream (refused, reset, gone away). connect-node reports
 * these as UNAVAILABLE, INTERNAL or ABORTED, all of which the error seam reads as
 * `unavailable`; this caller says UNAVAILABLE outright.
 */
function transportError(error: unknown): ConnectError {
  return ConnectError.from(error, Code.Unavailable);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
