import type { IncomingHttpHeaders } from "node:http";
import * as http2 from "node:http2";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import { accessLogEnabled, writeAccessLog } from "./access-log.js";
import type { BridgeServerLogger } from "./logger.js";
import { GRPC_CODE_NAMES, type RpcSeries, type ServerMetrics, type WirePath } from "./metrics.js";
import type { NodeRequestHandler } from "./request-handler.js";
import type { RpcSystem, ServerEndpoint, ServerTracing } from "./tracing.js";

/** Options of {@link createCallObserver}. */
export interface CallObserverOptions {
  readonly metrics: ServerMetrics;
  readonly tracing: ServerTracing;
  readonly logger: BridgeServerLogger;
  /** Where the server listens (known once it does; no call comes before). */
  endpoint(): ServerEndpoint;
}

/** A call being observed. */
export interface ObservedCall {
  /** The session the request names, for the access log: set once the request is decoded. */
  sessionId: string | undefined;
}

/**
 * The one per-call hook of both wire paths: a call is counted, timed, traced and logged once,
 * from its headers to the end of its response, whichever path serves it.
 */
export interface CallObserver {
  /**
   * Observes a call the direct gRPC path took, until its HTTP/2 stream closes; its code is the
   * `grpc-status` of the trailers sent, or CANCELLED when none were (the client went away).
   */
  observeDirect(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ): ObservedCall | undefined;
  /**
   * Wraps connect's request handler: every request for a known method is observed until its
   * response closes. Its code is the `grpc-status` trailer (gRPC over HTTP/2), else what
   * {@link CallObserver.interceptor} saw the method end with, else the HTTP status's code.
   */
  observeConnect(handler: NodeRequestHandler): NodeRequestHandler;
  /** Connect's half of {@link observeConnect}: reports each call's code and session. */
  readonly interceptor: Interceptor;
}

const CANCELLED = 1;
const UNKNOWN = 2;
/**
 * Links a request to the interceptor that sees it: connect copies the request's headers, so a
 * value set here (overwriting whatever a client sent) is the one the interceptor reads, and it
 * removes it before the method runs.
 */
const CALL_HEADER = "x-statebridge-observed-call";

/** HTTP statuses of errors answered before a method ran (connect's mapping, reversed). */
const CODE_OF_HTTP_STATUS: ReadonlyMap<number, number> = new Map([
  [400, 3],
  [401, 16],
  [403, 7],
  [404, 12],
  [408, 4],
  [409, 10],
  [412, 9],
  [413, 8],
  [415, 13],
  [416, 11],
  [429, 8],
  [499, 1],
  [500, 13],
  [501, 12],
  [503, 14],
  [504, 4],
]);

class Call implements ObservedCall {
  sessionId: string | undefined = undefined;
  /** The code the connect interceptor saw the method end with. */
  code: number | undefined = undefined;
  readonly startMs = performance.now();

  constructor(
    readonly series: RpcSeries,
    readonly system: RpcSystem,
    readonly span: Span | undefined,
    /** The request's `traceparent`, for the access log's trace id when no span is made. */
    readonly traceparent: string | string[] | undefined,
  ) {}
}

/** Calls of the direct path by their stream, until the stream closes (a Map: cheaper to churn). */
const directCalls = new Map<http2.ServerHttp2Stream, Call>();

/**
 * Tells the observer of the direct call on `stream` (if any) the request it decoded: the
 * access log names its session, as it does on connect's path.
 */
export function observeRequest(stream: http2.ServerHttp2Stream, message: unknown): void {
  const call = directCalls.get(stream);
  if (call !== undefined) call.sessionId = sessionIdOf(message);
}

/** Creates the {@link CallObserver} of a server. */
export function createCallObserver(options: CallObserverOptions): CallObserver {
  const { metrics, tracing, logger } = options;
  /** Calls of connect's path waiting for the interceptor, by the value of {@link CALL_HEADER}. */
  const awaitingInterceptor = new Map<string, Call>();
  let nextCallNumber = 0;

  function begin(
    requestPath: string | undefined,
    path: WirePath,
    system: RpcSystem,
    headers: IncomingHttpHeaders,
  ): Call | undefined {
    const series = metrics.rpc(requestPath, path);
    if (series === undefined) return undefined;
    series.started();
    const span = tracing.start(system, series.service, series.method, headers, options.endpoint());
    return new Call(series, system, span, headers.traceparent);
  }

  function finish(call: Call, code: number): void {
    const durationMs = performance.now() - call.startMs;
    call.series.ended(code, durationMs / 1000);
    if (call.span !== undefined) tracing.end(call.span, call.system, code);
    if (accessLogEnabled(logger)) {
      writeAccessLog(logger, {
        method: `${call.series.service}/${call.series.method}`,
        code: GRPC_CODE_NAMES[code] ?? "UNKNOWN",
        durationMs,
        sessionId: call.sessionId,
        path: call.series.path,
        protocol: call.system,
        traceId: call.span?.spanContext().traceId ?? traceIdOf(call.traceparent),
      });
    }
  }

  return {
    observeDirect(stream, headers) {
      const call = begin(headers[":path"], "direct", "grpc", headers);
      if (call === undefined) return undefined;
      directCalls.set(stream, call);
      // A stream closes once: `on` spares the wrapper `once` makes.
      stream.on("close", () => {
        directCalls.delete(stream);
        finish(call, grpcStatusOf(stream.sentTrailers) ?? CANCELLED);
      });
      return call;
    },

    observeConnect(handler) {
      return (request, response) => {
        const headers = request.headers;
        const system = systemOf(headers["content-type"]);
        const call = begin(request.url, "connect", system, headers);
        if (call === undefined) {
          handler(request, response);
          return;
        }
        nextCallNumber = (nextCallNumber + 1) % Number.MAX_SAFE_INTEGER;
        const key = String(nextCallNumber);
        headers[CALL_HEADER] = key;
        awaitingInterceptor.set(key, call);
        response.once("close", () => {
          awaitingInterceptor.delete(key);
          finish(call, connectCodeOf(call, response));
        });
        handler(request, response);
      };
    },

    interceptor: (next) => async (request) => {
      const key = request.header.get(CALL_HEADER);
      if (key === null) return await next(request);
      request.header.delete(CALL_HEADER);
      const call = awaitingInterceptor.get(key);
      awaitingInterceptor.delete(key);
      if (call === undefined) return await next(request);
      if (!request.stream) call.sessionId = sessionIdOf(request.message);
      try {
        const response = await next(request);
        if (!response.stream) {
          call.code = 0;
          return response;
        }
        return { ...response, message: reportEnd(response.message, call) };
      } catch (error) {
        call.code = ConnectError.from(error).code;
        throw error;
      }
    },
  };
}

/** Passes a stream's messages on, and records how it ended. */
async function* reportEnd<T>(messages: AsyncIterable<T>, call: Call): AsyncGenerator<T> {
  try {
    yield* messages;
    call.code = 0;
  } catch (error) {
    call.code = ConnectError.from(error).code;
    throw error;
  }
}

function grpcStatusOf(trailers: http2.OutgoingHttpHeaders | undefined): number | undefined {
  const status = trailers?.["grpc-status"];
  if (status === undefined) return undefined;
  const code = Number(status);
  return Number.isInteger(code) && code >= 0 && code < GRPC_CODE_NAMES.length ? code : UNKNOWN;
}

function connectCodeOf(call: Call, response: Parameters<NodeRequestHandler>[1]): number {
  if (response instanceof http2.Http2ServerResponse) {
    const status = grpcStatusOf(response.stream.sentTrailers);
    if (status !== undefined) return status;
    // gRPC always ends with trailers: none means the stream was reset first.
    if (call.system === "grpc" && !response.writableFinished) return CANCELLED;
  }
  if (!response.writableFinished) return CANCELLED;
  if (call.code !== undefined) return call.code;
  // The request failed before its method ran (connect answered a malformed request itself).
  return CODE_OF_HTTP_STATUS.get(response.statusCode) ?? UNKNOWN;
}

/** The trace id of a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`), if it has one. */
function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== "string") return undefined;
  const match = TRACEPARENT.exec(traceparent);
  return match === null || match[1] === ZERO_TRACE_ID ? undefined : match[1];
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/;
const ZERO_TRACE_ID = "0".repeat(32);

function systemOf(contentType: string | undefined): RpcSystem {
  return contentType?.startsWith("application/grpc") === true ? "grpc" : "connect_rpc";
}

function sessionIdOf(message: unknown): string | undefined {
  const sessionId = (message as { sessionId?: unknown } | undefined)?.sessionId;
  return typeof sessionId === "string" ? sessionId : undefined;
}
