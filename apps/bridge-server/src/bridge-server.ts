import { createRequire } from "node:module";
import type { Interceptor } from "@connectrpc/connect";
import { createDeadlineWatchdog } from "@statebridge/grpc-wire";
import { BridgeService, Health, ServerReflectionV1, ServerReflectionV1alpha } from "@statebridge/proto";
import type { SessionStore, SessionStoreOptions } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import { createHostCheck, createTokenCheck } from "./auth.js";
import { createUnaryMethods } from "./bridge-service.js";
import { createCallGate, MAX_TIMER_MS } from "./call-gate.js";
import { defaultMaxConnections } from "./connection-watch.js";
import { CORS_DEFAULTS, createCors, withCors } from "./cors.js";
import { createGrpcFastPath } from "./grpc-fast-path.js";
import { createHealthService } from "./health-service.js";
import { defaultInspectorDirectory, INSPECTOR_PATH, loadInspectorFiles } from "./inspector-static.js";
import { createListener } from "./listener.js";
import { type BridgeServerLogger, silentLogger } from "./logger.js";
import { countRefusals, createServerMetrics } from "./metrics.js";
import { createMetricsListener } from "./metrics-listener.js";
import { instrumentStore } from "./metrics-store.js";
import { REFLECTION_LIMITS, withReflection } from "./reflection.js";
import { ACCEPT_COMPRESSION, createRequestHandler } from "./request-handler.js";
import { openSessionStore } from "./store-factory.js";
import { createCallObserver } from "./telemetry.js";
import { type BridgeServerTlsOptions, createTlsAcceptor } from "./tls.js";
import { createServerTracing, type ServerEndpoint } from "./tracing.js";
import { createWatchFastPath } from "./watch-fast-path.js";
import { createStreamRegistry } from "./watch-registry.js";
import { createWatchStreamMethod } from "./watch-stream.js";
import { createWatchVariablesMethod } from "./watch-variables.js";

/** Defaults of {@link BridgeServerOptions}. */
export const BRIDGE_SERVER_DEFAULTS = Object.freeze({
  host: "127.0.0.1",
  port: 50051,
  maxRequestBytes: 64 * 1024 * 1024,
  heartbeatIntervalMs: 5_000,
  watchQueueLimit: 10_000,
  watchQueueBytes: 8 * 1024 * 1024,
  shutdownGraceMs: 4_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxConnections: defaultMaxConnections(),
  corsMaxAgeSeconds: CORS_DEFAULTS.maxAgeSeconds,
  reflectionMaxRequests: REFLECTION_LIMITS.maxRequests,
  reflectionIdleTimeoutMs: REFLECTION_LIMITS.idleTimeoutMs,
});

/** Options of {@link createBridgeServer}. Every one is optional. */
export interface BridgeServerOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on; 0 picks a free one. Default 50051. */
  readonly port?: number;
  /**
   * A store to serve. When given, the session options below are ignored and {@link
   * BridgeServer.close} leaves the store open; by default the server creates its own and closes it.
   */
  readonly store?: SessionStore;
  /**
   * Where the server's own store keeps sessions: `memory` (this process, gone with it), or
   * `redis://host:port/db`, shared by every bridge-server on that Redis and kept across their
   * restarts (needs `@statebridge/session-store-redis` installed). Default `memory`.
   */
  readonly storeUrl?: string;
  /** Sliding session TTL, in seconds. Default 3600 (the store's). */
  readonly sessionTtlSeconds?: number;
  /** Most sessions at once. Default 10,000 (the store's). */
  readonly maxSessions?: number;
  /** Most variables per session. Default 100,000 (the store's). */
  readonly maxVariablesPerSession?: number;
  /** Largest value, in bytes of its wire form. Default 64 MiB (the store's). */
  readonly maxValueBytes?: number;
  /** Most watchers per session. Default 100,000 (the store's). */
  readonly maxWatchersPerSession?: number;
  /** Changes kept per session for resuming watches. Default 1,000 (the store's). */
  readonly historySize?: number;
  /** Bytes of changes kept per session for resuming watches. Default 64 MiB (the store's). */
  readonly historyBytes?: number;
  /**
   * Bytes of values all sessions may hold together; past it writes fail with
   * `resource_exhausted`. Default half of V8's heap limit (the store's).
   */
  readonly maxMemoryBytes?: number;
  /** Largest request message, in bytes; larger ones fail with `resource_exhausted`. Default 64 MiB. */
  readonly maxRequestBytes?: number;
  /**
   * Bytes that all compressed requests being decompressed at once may inflate to; a request
   * that would go past it fails with `resource_exhausted`, so that parallel gzip bombs cannot
   * make the server hold many times the largest message. Default twice `maxRequestBytes`.
   */
  readonly maxDecompressingBytes?: number;
  /** Heartbeat interval of watch streams whose client asks for none, in ms. Default 5,000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Messages one watch stream may hold for a consumer that does not keep up; past it the
   * stream ends with `resource_exhausted`. Default 10,000.
   */
  readonly watchQueueLimit?: number;
  /**
   * Bytes (of the values and metadata its messages carry) one watch stream may hold for a
   * consumer that does not keep up; past it the stream ends with `resource_exhausted`. Default 8 MiB.
   */
  readonly watchQueueBytes?: number;
  /**
   * Bearer token every call but the health service must present (`authorization: Bearer
   * <token>`). Default: none, and no call needs one.
   */
  readonly token?: string;
  /**
   * Responses at least this many bytes are compressed for clients that accept it. Default:
   * never, because the bridge runs next to its clients, where compressing costs more CPU than
   * it saves.
   */
  readonly compressMinBytes?: number;
  /**
   * Names (`Host`/`:authority`) that requests may be addressed to when no token is required,
   * besides IP addresses, `localhost` and `host`: a defence against DNS rebinding. An entry
   * `.example.com` allows the domain and its subdomains; `*` allows any. Default none.
   */
  readonly allowedHosts?: readonly string[];
  /** A connection that has not sent its first request's headers within this is closed, in ms. Default 10,000. */
  readonly headersTimeoutMs?: number;
  /** A connection with no open call or stream for this long is closed, in ms. Default 300,000. */
  readonly idleTimeoutMs?: number;
  /**
   * Connections open at once; beyond it a new one is closed at once. Default 10,000, or less
   * when the process's open-file limit is lower (that limit minus 64).
   */
  readonly maxConnections?: number;
  /** How long {@link BridgeServer.close} lets connections finish before cutting them, in ms. Default 4,000. */
  readonly shutdownGraceMs?: number;
  /** Where to log; pino's logger fits. Default: nothing is logged. */
  readonly logger?: BridgeServerLogger;
  /**
   * Serve Prometheus metrics at `GET /metrics` on this port (0 picks a free one), on a
   * listener of its own: they stay off the public port, outside the token and Host checks, and
   * reachable only where an operator exposes them. Default: none (the metrics are kept all the
   * same: {@link BridgeServer.metrics}).
   */
  readonly metricsPort?: number;
  /** Interface of the metrics listener. Default: `host`. */
  readonly metricsHost?: string;
  /**
   * Count, time, trace (OpenTelemetry server spans, when an SDK is registered) and log (the
   * access log, at `debug`) every call once, whichever wire path serves it, and time every
   * store operation. Default true; `false` serves calls with none of it (to measure its cost).
   */
  readonly telemetry?: boolean;
  /**
   * Serve unary gRPC calls of `BridgeService`, and its gRPC watch streams (unless responses
   * may be compressed), on a direct HTTP/2 path rather than through connect's handler
   * pipeline, which costs several times more CPU per call and per streamed message. Both run the same
   * methods and answer with the same headers, messages and trailers; `false` sends every call
   * through connect (to compare the two, or to rule the direct path out). Default true.
   */
  readonly grpcFastPath?: boolean;
  /**
   * Serve gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so that `buf curl` and
   * grpcurl call the server without a local schema. It tells only the schema, which is public;
   * it needs the token like every other call. Default true.
   */
  readonly reflection?: boolean;
  /** Requests one reflection stream may send; the next ends it with `resource_exhausted`. Default 1,000. */
  readonly reflectionMaxRequests?: number;
  /** A reflection stream with no request for this long ends with `unavailable`, in ms. Default 60,000. */
  readonly reflectionIdleTimeoutMs?: number;
  /**
   * Origins whose web pages may call the server (Connect and gRPC-Web, CORS):
   * `https://app.example.com`, or `*` for any. Default none: no CORS header is sent, and
   * browsers keep pages of other origins from calling.
   */
  readonly corsOrigins?: readonly string[];
  /** How long a browser may cache a CORS preflight answer, in seconds. Default 7,200. */
  readonly corsMaxAgeSeconds?: number;
  /**
   * Serve the inspector, a web page of the sessions, their variables and live changes, at
   * `/inspect`, and the ListSessions RPC it uses. Off by default: listing every session is for
   * whoever operates the server, and without it session ids stay unlisted (ListSessions answers
   * `not_found`).
   */
  readonly inspector?: boolean;
  /** Where the inspector's built files are. Default: the copy in this package's `dist/inspector`. */
  readonly inspectorDirectory?: string;
  /**
   * Serve TLS instead of cleartext: HTTP/2 (ALPN `h2`) and HTTP/1.1 on the same port, and,
   * with `clientCa`, mutual TLS (every client must present a certificate a given CA issued).
   * The URL becomes `https://`. Default: cleartext.
   */
  readonly tls?: BridgeServerTlsOptions;
}

/** A running bridge-server. */
export interface BridgeServer {
  /** The inspector's address (`<url>/inspect/`) when {@link BridgeServerOptions.inspector} is on. */
  readonly inspectorUrl?: string;
  /** The address clients use, such as `http://127.0.0.1:50051` (`https://` with TLS). */
  readonly url: string;
  /** The interface it listens on. */
  readonly host: string;
  /** The port it listens on (the one picked, when 0 was asked). */
  readonly port: number;
  /** The store it serves. */
  readonly store: SessionStore;
  /** Watch and health streams open now. */
  openStreams(): number;
  /** `http://<metricsHost>:<port>/metrics` when {@link BridgeServerOptions.metricsPort} is set. */
  readonly metricsUrl?: string;
  /** The Prometheus text exposition `/metrics` serves, for embedding servers that expose it their own way. */
  metrics(): Promise<string>;
  /**
   * Shuts down: health turns NOT_SERVING, every watch stream ends with `unavailable` ("server
   * shutting down"), new connections are refused, open calls get the grace period to finish,
   * and then whatever is left is cut. Closes the store if the server created it. Idempotent.
   */
  close(): Promise<void>;
}

const packageJson = createRequire(import.meta.url)("../package.json") as { version: string };

/**
 * Starts a bridge-server: `statebridge.v1.BridgeService` and `grpc.health.v1.Health` over
 * gRPC (HTTP/2 cleartext, as Python's grpcio speaks), Connect and gRPC-Web, on one port. HTTP/1.1
 * requests are served too, for Connect and gRPC-Web clients that cannot speak HTTP/2.
 *
 * @returns once the server listens.
 * @throws if the address cannot be bound (for example `EADDRINUSE`), or for a store option
 *   the store refuses; `invalid_value` for TLS options that cannot be used, naming which.
 */
export async function createBridgeServer(options: BridgeServerOptions = {}): Promise<BridgeServer> {
  const host = options.host ?? BRIDGE_SERVER_DEFAULTS.host;
  const requestedPort = options.port ?? BRIDGE_SERVER_DEFAULTS.port;
  const logger = options.logger ?? silentLogger;
  const tls =
    options.tls === undefined
      ? undefined
      : createTlsAcceptor(options.tls, (error) =>
          logger.debug({ reason: "tls handshake", err: error.message }, "connection closed by the server"),
        );
  const maxRequestBytes = options.maxRequestBytes ?? BRIDGE_SERVER_DEFAULTS.maxRequestBytes;
  const shutdownGraceMs = options.shutdownGraceMs ?? BRIDGE_SERVER_DEFAULTS.shutdownGraceMs;
  const cors =
    options.corsOrigins === undefined || options.corsOrigins.length === 0
      ? undefined
      : createCors({
          origins: options.corsOrigins,
          maxAgeSeconds: options.corsMaxAgeSeconds ?? BRIDGE_SERVER_DEFAULTS.corsMaxAgeSeconds,
        });
  const inspectorFiles =
    options.inspector === true
      ? loadInspectorFiles(options.inspectorDirectory ?? defaultInspectorDirectory())
      : undefined;
  const ownsStore = options.store === undefined;
  const store =
    options.store ?? (await openSessionStore(options.storeUrl ?? "memory", storeOptionsOf(options)));
  const streams = createStreamRegistry();
  let serving = true;
  const metrics = createServerMetrics({
    services: [
      BridgeService,
      Health,
      ...(options.reflection === false ? [] : [ServerReflectionV1, ServerReflectionV1alpha]),
    ],
    store,
    openStreams: () => streams.size,
  });
  const telemetry = options.telemetry !== false;
  // What the methods use: every store operation timed, whichever store it is.
  const served = telemetry ? instrumentStore(store, metrics.store) : store;
  let endpoint: ServerEndpoint = { address: host, port: requestedPort };
  const observer = telemetry
    ? createCallObserver({
        metrics,
        tracing: createServerTracing(packageJson.version),
        logger,
        endpoint: () => endpoint,
      })
    : undefined;

  const watchDependencies = {
    store: served,
    logger,
    streams,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? BRIDGE_SERVER_DEFAULTS.heartbeatIntervalMs,
    queueLimit: options.watchQueueLimit ?? BRIDGE_SERVER_DEFAULTS.watchQueueLimit,
    queueBytes: options.watchQueueBytes ?? BRIDGE_SERVER_DEFAULTS.watchQueueBytes,
    ...(telemetry ? { metrics: metrics.watch } : {}),
  };
  // Whatever applies to every call (the token, the host, deadlines) is the call gate's, in
  // front of both paths; connect's pipeline gets no interceptor the direct path would skip.
  // The call observer's is the one exception: the direct path reports to the same observer.
  const interceptors: Interceptor[] = observer === undefined ? [] : [observer.interceptor];
  const checkToken =
    options.token !== undefined && options.token !== "" ? createTokenCheck(options.token, logger) : undefined;
  const unaryMethods = createUnaryMethods({
    store: served,
    logger,
    serverVersion: packageJson.version,
    listSessions: inspectorFiles !== undefined,
  });
  const compressMinBytes = options.compressMinBytes ?? Number.MAX_SAFE_INTEGER;
  const watchVariables = createWatchVariablesMethod(watchDependencies);
  const watchStream = createWatchStreamMethod(watchDependencies);
  const handler = createRequestHandler({
    logger,
    maxRequestBytes,
    maxDecompressingBytes: options.maxDecompressingBytes ?? 2 * maxRequestBytes,
    interceptors,
    compressMinBytes,
    routes(router) {
      router.service(BridgeService, {
        ...unaryMethods,
        watchVariables,
        watchStream,
      });
      router.service(
        Health,
        createHealthService({ isServing: () => serving, storeAvailable: () => store.available(), streams }),
      );
    },
  });
  const watchdog = createDeadlineWatchdog();
  const fastPath =
    options.grpcFastPath === false
      ? undefined
      : createGrpcFastPath({
          methods: unaryMethods,
          // Watch streams are compressed by connect only: the direct path takes them when nothing is.
          ...(compressMinBytes === Number.MAX_SAFE_INTEGER
            ? {
                streams: createWatchFastPath({
                  watchVariables,
                  watchStream,
                  maxRequestBytes,
                  watchdog,
                  logger,
                }),
              }
            : {}),
          maxRequestBytes,
          acceptCompression: ACCEPT_COMPRESSION,
          compressMinBytes,
          watchdog,
          logger,
        });
  // Refusals are counted apart: they are answered before either path, and no RPC.
  const refusals = telemetry ? metrics : undefined;
  const gate = createCallGate({
    ...(checkToken === undefined
      ? { checkHost: countRefusals(createHostCheck(options.allowedHosts ?? [], host, logger), refusals) }
      : { checkToken: countRefusals(checkToken, refusals) }),
    acceptCompression: ACCEPT_COMPRESSION,
    compressMinBytes,
    ...(cors === undefined ? {} : { cors }),
  });
  if (
    cors !== undefined &&
    checkToken === undefined &&
    options.corsOrigins?.some((origin) => origin.trim() === "*")
  ) {
    logger.warn(
      {},
      "CORS allows any origin and no token is required: any web page a user opens can call this server",
    );
  }
  const reflected =
    options.reflection === false
      ? handler
      : withReflection(handler, {
          services: [BridgeService, Health],
          streams,
          maxRequests: options.reflectionMaxRequests ?? BRIDGE_SERVER_DEFAULTS.reflectionMaxRequests,
          idleTimeoutMs: Math.min(
            MAX_TIMER_MS,
            options.reflectionIdleTimeoutMs ?? BRIDGE_SERVER_DEFAULTS.reflectionIdleTimeoutMs,
          ),
          compressMinBytes,
          interceptors,
          logger,
        });
  // Observed inside CORS: a preflight is no call.
  const observed = observer === undefined ? reflected : observer.observeConnect(reflected);
  const listener = createListener({
    handler: cors === undefined ? observed : withCors(observed, cors),
    gate,
    ...(inspectorFiles === undefined ? {} : { inspector: inspectorFiles }),
    // A refused unary request is dropped up to the largest one the server would take.
    maxRefusedBodyBytes: maxRequestBytes + 5,
    headersTimeoutMs: options.headersTimeoutMs ?? BRIDGE_SERVER_DEFAULTS.headersTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? BRIDGE_SERVER_DEFAULTS.idleTimeoutMs,
    maxConnections: options.maxConnections ?? BRIDGE_SERVER_DEFAULTS.maxConnections,
    onConnectionClosed: (reason) => logger.debug({ reason }, "connection closed by the server"),
    ...(fastPath === undefined
      ? {}
      : {
          serveStream: (stream, headers) => {
            if (!fastPath.serve(stream, headers)) return false;
            // Taken: the call is the direct path's until its stream closes.
            observer?.observeDirect(stream, headers);
            return true;
          },
        }),
    onError: (error) => logger.error({ err: error }, "listening socket error"),
    // In MB: room for the connection's receive window and a whole largest message, twice over.
    maxSessionMemory: Math.max(64, Math.ceil((2 * maxRequestBytes) / (1024 * 1024))),
    ...(tls === undefined ? {} : { tls }),
  });
  let port: number;
  try {
    port = await listener.listen(requestedPort, host);
  } catch (error) {
    if (ownsStore) await store.close();
    throw error;
  }
  const url = `${tls === undefined ? "http" : "https"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  endpoint = { address: host, port };
  logger.info({ url, host, port }, "listening");
  const metricsListener =
    options.metricsPort === undefined
      ? undefined
      : createMetricsListener({
          metrics,
          logger,
          headersTimeoutMs: options.headersTimeoutMs ?? BRIDGE_SERVER_DEFAULTS.headersTimeoutMs,
        });
  let metricsUrl: string | undefined;
  if (metricsListener !== undefined) {
    const metricsHost = options.metricsHost ?? host;
    try {
      const metricsPort = await metricsListener.listen(options.metricsPort ?? 0, metricsHost);
      metricsUrl = `http://${metricsHost.includes(":") ? `[${metricsHost}]` : metricsHost}:${metricsPort}/metrics`;
    } catch (error) {
      await listener.close(0);
      if (ownsStore) await store.close();
      throw error;
    }
    logger.info({ metricsUrl }, "serving metrics");
  }

  let closing: Promise<void> | undefined;
  async function shutDown(): Promise<void> {
    serving = false;
    logger.info({ openStreams: streams.size, connections: listener.connections }, "shutting down");
    streams.endAll(new StateError("unavailable", "server shutting down"));
    const inTime = await listener.close(shutdownGraceMs);
    if (!inTime) logger.warn({ shutdownGraceMs }, "grace period over: the remaining connections were cut");
    await metricsListener?.close();
    if (ownsStore) await store.close();
    logger.info({}, "stopped");
  }

  return {
    url,
    ...(inspectorFiles === undefined ? {} : { inspectorUrl: `${url}${INSPECTOR_PATH}/` }),
    host,
    port,
    store,
    openStreams: () => streams.size,
    ...(metricsUrl === undefined ? {} : { metricsUrl }),
    metrics: () => metrics.metricsText(),
    close() {
      closing ??= shutDown();
      return closing;
    },
  };
}

function storeOptionsOf(options: BridgeServerOptions): SessionStoreOptions {
  return {
    ...(options.sessionTtlSeconds === undefined ? {} : { ttlSeconds: options.sessionTtlSeconds }),
    ...(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions }),
    ...(options.maxVariablesPerSession === undefined
      ? {}
      : { maxVariablesPerSession: options.maxVariablesPerSession }),
    ...(options.maxValueBytes === undefined ? {} : { maxValueBytes: options.maxValueBytes }),
    ...(options.maxWatchersPerSession === undefined
      ? {}
      : { maxWatchersPerSession: options.maxWatchersPerSession }),
    ...(options.historySize === undefined ? {} : { historySize: options.historySize }),
    ...(options.historyBytes === undefined ? {} : { historyBytes: options.historyBytes }),
    ...(options.maxMemoryBytes === undefined ? {} : { maxMemoryBytes: options.maxMemoryBytes }),
  };
}
