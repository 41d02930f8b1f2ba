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
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { context, propagation } from "@opentelemetry/api";
import {
  createDeadlineWatchdog,
  createEnvelopeReader,
  type DeadlineWatchdog,
  type EnvelopeReader,
  encodeEnvelope,
  formatGrpcTimeout,
  readResponseHead,
  receiveLimitError,
  resetError,
  trailerError,
} from "@statebridge/grpc-wire";
import type { CallOptions } from "./call-policy.js";
import { REQUEST_ENCODERS } from "./request-encoding.js";
import { RESPONSE_DECODERS } from "./response-decoding.js";

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
    // The caller's trace context, when an OpenTelemetry propagator is registered.
    const header: Record<string, string> = {};
    propagation.inject(context.active(), header);
    const response = await transport.unary(method, options.signal, options.timeoutMs, header, request);
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
  /**
   * The path of the server's URL (`/prefix` of `http://host/prefix`), put before every
   * method's path as connect's transport does. Default: none.
   */
  readonly pathPrefix?: string;
  /**
   * The largest response message accepted, in bytes; a larger one fails the call with
   * RESOURCE_EXHAUSTED from its envelope header, before its body is buffered. Default: any.
   */
  readonly maxReceiveBytes?: number;
}

/** What the response envelopes of a unary call held, as far as connect's checks need. */
interface ReceivedEnvelopes {
  first: Uint8Array | undefined;
  firstCompressed: boolean;
  /** Whether a second envelope came, and whether it was compressed. */
  extra: boolean;
  extraCompressed: boolean;
}

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
  const { sessionManager, maxReceiveBytes } = options;
  const pathPrefix = options.pathPrefix ?? "";
  const watchdog = options.watchdog ?? createDeadlineWatchdog();
  const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  const pending = new Set<PendingCall>();
  const watchedSignals = new WeakSet<AbortSignal>();
  const paths = new WeakMap<DescMethodUnary, string>();

  function pathOf(method: DescMethodUnary): string {
    let path = paths.get(method);
    if (path === undefined) {
      path = `${pathPrefix}/${method.parent.typeName}/${method.name}`;
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
      body =
        REQUEST_ENCODERS.get(method)?.(request as object) ??
        encodeEnvelope(toBinary(method.input, create(method.input, request)));
    } catch (error) {
      return Promise.reject(new ConnectError(`serialize binary: ${messageOf(error)}`, Code.Internal));
    }
    const headers: http2.OutgoingHttpHeaders = {
      "content-type": "application/grpc+proto",
      te: "trailers",
      "grpc-timeout": formatGrpcTimeout(timeoutMs),
    };
    if (authorization !== undefined) headers.authorization = authorization;
    // The caller's trace context (`traceparent`), when an OpenTelemetry propagator is registered.
    propagation.inject(context.active(), headers);

    return new Promise<MessageShape<typeof method.output>>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream | undefined;
      let settled = false;
      let responseHeaders: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const received: ReceivedEnvelopes = {
        first: undefined,
        firstCompressed: false,
        extra: false,
        extraCompressed: false,
      };
      const envelopes = createEnvelopeReader(
        {
          onEnvelope(message, compressed) {
            if (envelopes.messages === 1) {
              received.first = message;
              received.firstCompressed = compressed;
              return;
            }
            // A second message settles what connect reports; the rest need not be read.
            received.extra = true;
            received.extraCompressed = compressed;
            envelopes.stop();
          },
          onOversize(length, limit) {
            call.fail(receiveLimitError(length, limit));
          },
        },
        maxReceiveBytes === undefined ? {} : { maxMessageBytes: maxReceiveBytes },
      );

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
          method,
          responseHeaders,
          trailers,
          envelopes,
          received,
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
            sessionManager.notifyResponseByteRead(opened);
            envelopes.push(chunk);
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
  method: DescMethodUnary,
  headers: http2.IncomingHttpHeaders | undefined,
  trailers: http2.IncomingHttpHeaders | undefined,
  envelopes: EnvelopeReader,
  received: ReceivedEnvelopes,
  rstCode: number,
): ConnectError | { readonly message: unknown } {
  if (headers === undefined) {
    return (
      resetError(rstCode) ??
      new ConnectError("the stream closed before the server answered", Code.Unavailable)
    );
  }
  const head = readResponseHead(headers);
  if (head instanceof ConnectError) return head;
  if (trailers === undefined && !head.statusInHeaders) {
    const reset = resetError(rstCode);
    if (reset !== undefined) return reset;
  }
  let message: unknown;
  if (received.first !== undefined) {
    if (received.firstCompressed) return compressedError();
    try {
      message = RESPONSE_DECODERS.get(method)?.(received.first) ?? fromBinary(method.output, received.first);
    } catch (error) {
      return new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal);
    }
  }
  if (received.extra) {
    if (received.extraCompressed) return compressedError();
    return new ConnectError(
      "protocol error: received extra output message for unary method",
      Code.Unimplemented,
    );
  }
  if (envelopes.incomplete) {
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
  return { message };
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
