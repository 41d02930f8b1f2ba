import type * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { context, propagation } from "@opentelemetry/api";
import {
  createDeadlineWatchdog,
  type DeadlineWatchdog,
  encodeEnvelope,
  formatGrpcTimeout,
} from "@statebridge/grpc-wire";
import type { CallOptions } from "./call-policy.js";
import { type CallContext, messageOf, PendingCalls, startUnaryCall } from "./grpc-unary-call.js";
import { REQUEST_ENCODERS } from "./request-encoding.js";
import { createUnaryStreamOpener } from "./unary-streams.js";

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
 * period, and keeps it alive with PINGs while calls are open; while it has streams open, calls
 * open theirs on its connection directly (see `createUnaryStreamOpener`). Every call's deadline
 * is watched by one shared timer; it is also sent as `grpc-timeout`. An aborted `signal` fails
 * every call in flight (one listener per signal, not one per call). Responses are neither
 * compressed nor expected to be: the caller offers no `grpc-accept-encoding`.
 */
export function createGrpcUnaryCaller(options: GrpcUnaryCallerOptions): UnaryCaller {
  const pathPrefix = options.pathPrefix ?? "";
  const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  const shared: CallContext = {
    sessionManager: options.sessionManager,
    opener: createUnaryStreamOpener(options.sessionManager),
    watchdog: options.watchdog ?? createDeadlineWatchdog(),
    readerOptions: options.maxReceiveBytes === undefined ? {} : { maxMessageBytes: options.maxReceiveBytes },
    pending: new PendingCalls(),
  };
  const watchedSignals = new WeakSet<AbortSignal>();
  const requestHeaders = new WeakMap<DescMethodUnary, MethodHeaders>();

  /** The method's request headers for a deadline: the same frozen object while the deadline is. */
  function headersOf(method: DescMethodUnary, timeoutMs: number): MethodHeaders {
    const timeout = formatGrpcTimeout(timeoutMs);
    let known = requestHeaders.get(method);
    if (known === undefined || known.timeout !== timeout) {
      const path = known?.path ?? `${pathPrefix}/${method.parent.typeName}/${method.name}`;
      const headers: http2.OutgoingHttpHeaders = {
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        "grpc-timeout": timeout,
      };
      if (authorization !== undefined) headers.authorization = authorization;
      known = { path, timeout, headers: Object.freeze(headers) };
      requestHeaders.set(method, known);
    }
    return known;
  }

  function watchSignal(signal: AbortSignal): void {
    if (watchedSignals.has(signal)) return;
    watchedSignals.add(signal);
    signal.addEventListener(
      "abort",
      () => shared.pending.failAll(ConnectError.from(signal.reason, Code.Canceled)),
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
    const { path, headers } = headersOf(method, timeoutMs);
    // The caller's trace context (`traceparent`), when an OpenTelemetry propagator is registered.
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    return startUnaryCall(
      shared,
      method,
      timeoutMs,
      path,
      hasKeys(traceContext) ? { ...headers, ...traceContext } : headers,
      body,
    ) as Promise<MessageShape<typeof method.output>>;
  };
}

/** A method's request headers for one `grpc-timeout`. */
interface MethodHeaders {
  readonly path: string;
  readonly timeout: string;
  readonly headers: Readonly<http2.OutgoingHttpHeaders>;
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}
