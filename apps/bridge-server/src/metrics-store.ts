import type { SessionStore, WatchEventBatch, WatchListener } from "@statebridge/session-store";
import { isStateError } from "@statebridge/state-provider";
import { Counter, Gauge, type Registry } from "prom-client";
import { registerCollected, registerFastHistogram } from "./metrics-collected.js";

/** Seconds: an in-memory operation takes microseconds, a networked store milliseconds. */
const STORE_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1,
];

/** What the store wrapper reports (see `instrumentStore`). */
export interface StoreMetrics {
  /** Bound to `operation`: observes each call's duration, and its error's code if it failed. */
  operation(operation: string): StoreOperationSeries;
  /** Counts the revisions a write created. */
  revisionsWritten(count: number): void;
  /** Counts the events (and resyncs) the store delivered to watch streams. */
  eventsDelivered(events: number, resync: boolean): void;
}

/** One store operation's series. */
export interface StoreOperationSeries {
  succeeded(seconds: number): void;
  failed(seconds: number, code: string): void;
}

/** The store's asynchronous methods: each is timed under its own name. */
type Operation = Exclude<keyof SessionStore, "description" | "available" | "stats" | "close">;

/** The operations whose success wrote one revision. */
const WRITES: ReadonlySet<Operation> = new Set<Operation>([
  "register",
  "set",
  "updateMany",
  "delete",
  "importSession",
  "importVariables",
]);

const OPERATIONS: readonly Operation[] = [
  "initializeSession",
  "getSession",
  "heartbeat",
  "deleteSession",
  "listSessions",
  "register",
  "getVariable",
  "getVariables",
  "set",
  "updateMany",
  "list",
  "delete",
  "exportSession",
  "importSession",
  "importVariables",
  "watch",
  "sweep",
];

/**
 * Wraps any {@link SessionStore} (the in-memory one, Redis, …) so that every asynchronous
 * operation is timed (`statebridge_store_operation_duration_seconds`) and every failure counted
 * under its statebridge code (`statebridge_store_errors_total`; `internal` for anything that
 * is not a StateError); writes count revisions, and watch listeners count the events and
 * resyncs the store delivers. Results, errors and the order of calls are the store's own.
 */
export function instrumentStore(store: SessionStore, metrics: StoreMetrics): SessionStore {
  const instrumented: Record<string, unknown> = {
    get description() {
      return store.description;
    },
    available: () => store.available(),
    stats: () => store.stats(),
    close: () => store.close(),
  };
  for (const operation of OPERATIONS) {
    const series = metrics.operation(operation);
    const method = store[operation] as (...parameters: unknown[]) => Promise<unknown>;
    const writes = WRITES.has(operation) ? metrics : undefined;
    instrumented[operation] =
      operation === "watch"
        ? (sessionId: unknown, identifiers: unknown, listener: WatchListener, options: unknown) =>
            observe(series, undefined, () =>
              method.call(store, sessionId, identifiers, countEvents(listener, metrics), options),
            )
        : // Five parameters, the most a store method takes (register), passed as they are: a rest
          // array and apply() per call cost get several percent of its latency.
          (a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown) =>
            timedCall(series, method, store, writes, a, b, c, d, e);
  }
  return instrumented as unknown as SessionStore;
}

/** Calls `method` on `store` with `a`…`e` and times it, without building an array per call. */
function timedCall(
  series: StoreOperationSeries,
  method: (...parameters: unknown[]) => Promise<unknown>,
  store: SessionStore,
  writes: StoreMetrics | undefined,
  a?: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
  e?: unknown,
): Promise<unknown> {
  const start = performance.now();
  let pending: Promise<unknown>;
  try {
    pending = method.call(store, a, b, c, d, e);
  } catch (error) {
    // A store is to reject, not throw; either way the caller sees a rejection.
    series.failed((performance.now() - start) / 1000, codeOf(error));
    return Promise.reject(error);
  }
  return settled(series, writes, start, pending);
}

/** Times `call` (a watch, whose listener is wrapped). */
function observe(
  series: StoreOperationSeries,
  writes: StoreMetrics | undefined,
  call: () => Promise<unknown>,
): Promise<unknown> {
  const start = performance.now();
  let pending: Promise<unknown>;
  try {
    pending = call();
  } catch (error) {
    series.failed((performance.now() - start) / 1000, codeOf(error));
    return Promise.reject(error);
  }
  return settled(series, writes, start, pending);
}

/**
 * Records how `pending` ends. Observed beside the caller's own await rather than in front of
 * it: the result reaches the caller in the same turn of the microtask queue as without this.
 */
function settled(
  series: StoreOperationSeries,
  writes: StoreMetrics | undefined,
  start: number,
  pending: Promise<unknown>,
): Promise<unknown> {
  pending.then(
    () => {
      series.succeeded((performance.now() - start) / 1000);
      writes?.revisionsWritten(1);
    },
    (error: unknown) => series.failed((performance.now() - start) / 1000, codeOf(error)),
  );
  return pending;
}

function codeOf(error: unknown): string {
  return isStateError(error) ? error.code : "internal";
}

function countEvents(listener: WatchListener, metrics: StoreMetrics): WatchListener {
  return {
    onEvents(batch: WatchEventBatch) {
      metrics.eventsDelivered(batch.events.length, batch.events[0]?.type === "resync");
      listener.onEvents(batch);
    },
    onEnd(error) {
      listener.onEnd(error);
    },
  };
}

/** Registers the store's metrics: its stats read at scrape time, and what {@link instrumentStore} reports. */
export function createStoreMetrics(registry: Registry, store: Pick<SessionStore, "stats">): StoreMetrics {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  // Totals the store keeps itself: set from its stats at scrape time.
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  gauge("statebridge_sessions", "Sessions alive now.", () => store.stats().sessionsCurrent);
  gauge("statebridge_variables", "Variables in all sessions.", () => store.stats().variables);
  gauge(
    "statebridge_watchers",
    "Store watches open now (one per watch of a stream).",
    () => store.stats().watchers,
  );
  gauge(
    "statebridge_store_value_bytes",
    "Bytes of values held, as counted against --max-memory-bytes.",
    () => store.stats().valueBytes,
  );
  gauge(
    "statebridge_store_history_bytes",
    "Bytes of change history kept for resuming watches, in all sessions.",
    () => store.stats().historyBytes,
  );
  total("statebridge_sessions_created_total", "Sessions created.", () => store.stats().sessionsCreated);
  total("statebridge_sessions_expired_total", "Sessions that expired.", () => store.stats().sessionsExpired);
  total("statebridge_sessions_deleted_total", "Sessions deleted.", () => store.stats().sessionsDeleted);

  const written = { revisions: 0, events: 0, resyncs: 0 };
  const counted = (name: string, help: string, read: () => number) =>
    registerCollected(registry, name, help, "counter", () => [{ labels: {}, value: read() }]);
  counted(
    "statebridge_store_revisions_written_total",
    "Revisions written: one per write, one per atomic batch.",
    () => written.revisions,
  );
  counted(
    "statebridge_watch_events_total",
    "Events the store delivered to watch streams (initial, changes, deletions, resyncs).",
    () => written.events,
  );
  counted(
    "statebridge_watch_resyncs_total",
    "Resyncs sent: watches resumed from a revision the history no longer reached.",
    () => written.resyncs,
  );
  const durations = registerFastHistogram(
    registry,
    "statebridge_store_operation_duration_seconds",
    "Time a store operation took, by operation.",
    STORE_BUCKETS,
  );
  const errors = new Counter({
    name: "statebridge_store_errors_total",
    help: "Store operations that failed, by operation and statebridge error code.",
    labelNames: ["operation", "code"] as const,
    registers: [registry],
  });
  return {
    operation(operation) {
      const histogram = durations.series({ operation });
      return {
        succeeded(seconds) {
          histogram.observe(seconds);
        },
        failed(seconds, code) {
          histogram.observe(seconds);
          errors.labels(operation, code).inc();
        },
      };
    },
    revisionsWritten(count) {
      written.revisions += count;
    },
    eventsDelivered(count, resync) {
      written.events += count;
      if (resync) written.resyncs++;
    },
  };
}
