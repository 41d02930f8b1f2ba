import type { DescService } from "@bufbuild/protobuf";
import type { SessionStore } from "@statebridge/session-store";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { type HistogramSeries, registerCollected, registerFastHistogram } from "./metrics-collected.js";
import { createStoreMetrics, type StoreMetrics } from "./metrics-store.js";

/** Which wire path served a call: the direct gRPC path, or connect's handler pipeline. */
export type WirePath = "direct" | "connect";

/** gRPC status names by code, as the `code` label shows them. */
export const GRPC_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** Seconds: from a tenth of a millisecond (a direct get) to the lifetime of a watch stream. */
const RPC_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600,
];

/** The series of one method on one wire path, bound once so that a call looks nothing up. */
export interface RpcSeries {
  /** `package.Service`. */
  readonly service: string;
  /** The method's name. */
  readonly method: string;
  readonly path: WirePath;
  /** A call began: the in-flight gauge goes up. */
  started(): void;
  /** A call ended with gRPC `code` after `seconds`. */
  ended(code: number, seconds: number): void;
}

/** What one method on one path has counted so far. */
interface RpcSeriesState {
  readonly labels: Readonly<Record<string, string>>;
  inFlight: number;
  /** By gRPC code. */
  readonly codes: (
    | { labels: Record<string, string>; count: number; histogram: HistogramSeries }
    | undefined
  )[];
}

/** The live watch queues, summed at scrape time. */
export interface WatchQueueGauge {
  readonly size: number;
  readonly bytes: number;
}

/** What the watch streams report besides what the store's stats tell. */
export interface WatchMetrics {
  /** Counts a queue in the queued messages and bytes until the returned function is called. */
  track(queue: WatchQueueGauge): () => void;
  /** A stream was cut off because its consumer did not keep up. */
  slowConsumerCutOff(): void;
}

/** A server's Prometheus metrics. */
export interface ServerMetrics {
  /** The server's own metrics (process metrics are in {@link metricsText}'s output too). */
  readonly registry: Registry;
  /**
   * The series of the method at `requestPath` on `path`, cached.
   * @returns undefined for a path that names no method of the known services (not an RPC:
   *   label values stay a bounded set).
   */
  rpc(requestPath: string | undefined, path: WirePath): RpcSeries | undefined;
  readonly watch: WatchMetrics;
  readonly store: StoreMetrics;
  /** A call the call gate refused (token, host) with gRPC `code`, before either path saw it. */
  refused(code: number): void;
  /** The exposition text: the server's metrics, then the process's. */
  metricsText(): Promise<string>;
  /** The content type of {@link metricsText}. */
  readonly contentType: string;
}

/** What the metrics read at scrape time. */
export interface ServerMetricsOptions {
  /** The services whose calls are observed; a request for any other path is not an RPC. */
  readonly services: readonly DescService[];
  /** Read at scrape time; `stats()` is synchronous. */
  readonly store: Pick<SessionStore, "stats">;
  /** Watch and health streams open now. */
  openStreams(): number;
}

let processRegistry: Registry | undefined;

/**
 * Process metrics (event loop lag, heap, GC, CPU, file descriptors: prom-client's default
 * metrics), once per process whatever the number of servers: their collectors hold observers
 * that are never released. Started by the first metrics listener, or else the first scrape,
 * so that a server nobody scrapes (an embedded one, a test's) runs no collector.
 */
export function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 50 });
  }
  return processRegistry;
}

/**
 * Creates a server's metrics. Label values are bounded: a method only from `services`, a code
 * from the 17 gRPC codes, a store operation from the store's methods, an error code from
 * statebridge's codes.
 */
export function createServerMetrics(options: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  const all: RpcSeriesState[] = [];
  registerCollected(
    registry,
    "statebridge_rpc_requests_total",
    "Calls ended, by service, method, gRPC status code and wire path (direct or connect).",
    "counter",
    function* () {
      for (const series of all) {
        for (const code of series.codes)
          if (code !== undefined) yield { labels: code.labels, value: code.count };
      }
    },
  );
  const durations = registerFastHistogram(
    registry,
    "statebridge_rpc_duration_seconds",
    "Time from a call's headers to the end of its response, by service, method, code and path.",
    RPC_BUCKETS,
  );
  registerCollected(
    registry,
    "statebridge_rpc_in_flight",
    "Calls being served now (watch streams included), by service, method and path.",
    "gauge",
    () => all.map((series) => ({ labels: series.labels, value: series.inFlight })),
  );

  const refusals = new Float64Array(GRPC_CODE_NAMES.length);
  registerCollected(
    registry,
    "statebridge_rpc_refused_total",
    "Calls refused from their headers (bearer token, Host), before either wire path, by gRPC code.",
    "counter",
    function* () {
      for (const [index, count] of refusals.entries()) {
        if (count > 0) yield { labels: { code: GRPC_CODE_NAMES[index] as string }, value: count };
      }
    },
  );

  const methods = new Map<string, { service: string; method: string }>();
  for (const service of options.services) {
    for (const method of service.methods) {
      methods.set(`/${service.typeName}/${method.name}`, { service: service.typeName, method: method.name });
    }
  }
  const direct = new Map<string, RpcSeries>();
  const connect = new Map<string, RpcSeries>();

  function rpc(requestPath: string | undefined, path: WirePath): RpcSeries | undefined {
    const cache = path === "direct" ? direct : connect;
    const cached = requestPath === undefined ? undefined : cache.get(requestPath);
    if (cached !== undefined) return cached;
    let route = requestPath ?? "";
    const query = route.indexOf("?");
    if (query !== -1) {
      route = route.slice(0, query);
      const known = cache.get(route);
      if (known !== undefined) return known;
    }
    const labels = methods.get(route);
    if (labels === undefined) return undefined;
    const found = createRpcSeries(labels.service, labels.method, path);
    // Keyed by the route: a query string (Connect GET) does not grow the cache.
    cache.set(route, found);
    return found;
  }

  function createRpcSeries(service: string, method: string, path: WirePath): RpcSeries {
    const state: RpcSeriesState = { labels: { service, method, path }, inFlight: 0, codes: [] };
    all.push(state);
    return {
      service,
      method,
      path,
      started() {
        state.inFlight++;
      },
      ended(code, seconds) {
        state.inFlight--;
        const index = code >= 0 && code < GRPC_CODE_NAMES.length ? code : 2;
        let counts = state.codes[index];
        if (counts === undefined) {
          const labels = { service, method, code: GRPC_CODE_NAMES[index] as string, path };
          counts = { labels, count: 0, histogram: durations.series(labels) };
          state.codes[index] = counts;
        }
        counts.count++;
        counts.histogram.observe(seconds);
      },
    };
  }

  return {
    registry,
    rpc,
    watch: createWatchMetrics(registry, options),
    store: createStoreMetrics(registry, options.store),
    refused(code) {
      const index = code >= 0 && code < GRPC_CODE_NAMES.length ? code : 2;
      refusals[index] = (refusals[index] as number) + 1;
    },
    async metricsText() {
      const own = await registry.metrics();
      return `${own}\n${await processMetrics().metrics()}`;
    },
    contentType: registry.contentType,
  };
}

/** `check` (a token or Host check), counting the calls it refuses in `metrics` when given. */
export function countRefusals<A, B, R extends { readonly code: number }>(
  check: (first: A, second: B) => R | undefined,
  metrics: Pick<ServerMetrics, "refused"> | undefined,
): (first: A, second: B) => R | undefined {
  if (metrics === undefined) return check;
  // Runs for every call: two named parameters, no rest array.
  return (first, second) => {
    const refusal = check(first, second);
    if (refusal !== undefined) metrics.refused(refusal.code);
    return refusal;
  };
}

function createWatchMetrics(registry: Registry, options: ServerMetricsOptions): WatchMetrics {
  const queues = new Set<WatchQueueGauge>();
  new Gauge({
    name: "statebridge_watch_streams",
    help: "Watch and health streams open now.",
    registers: [registry],
    collect() {
      this.set(options.openStreams());
    },
  });
  new Gauge({
    name: "statebridge_watch_queued_messages",
    help: "Messages waiting in watch streams' queues for their consumers.",
    registers: [registry],
    collect() {
      let total = 0;
      for (const queue of queues) total += queue.size;
      this.set(total);
    },
  });
  new Gauge({
    name: "statebridge_watch_queued_bytes",
    help: "Bytes (of values and metadata) waiting in watch streams' queues for their consumers.",
    registers: [registry],
    collect() {
      let total = 0;
      for (const queue of queues) total += queue.bytes;
      this.set(total);
    },
  });
  const cutOff = new Counter({
    name: "statebridge_watch_slow_consumers_total",
    help: "Watch streams ended with resource_exhausted because their consumer did not keep up.",
    registers: [registry],
  });
  return {
    track(queue) {
      queues.add(queue);
      return () => {
        queues.delete(queue);
      };
    },
    slowConsumerCutOff() {
      cutOff.inc();
    },
  };
}
