import type { SessionStore, WatchEventBatch, WatchListener } from "@statebridge/session-store";
import { isStateError } from "@statebridge/state-provider";
import type { StoreMetrics, StoreOperationSeries } from "./metrics.js";

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
    const write = WRITES.has(operation);
    instrumented[operation] =
      operation === "watch"
        ? (sessionId: unknown, identifiers: unknown, listener: WatchListener, options: unknown) =>
            timed(series, () =>
              method.call(store, sessionId, identifiers, countEvents(listener, metrics), options),
            )
        : (...parameters: unknown[]) =>
            timed(series, () => method.apply(store, parameters), write ? metrics : undefined);
  }
  return instrumented as unknown as SessionStore;
}

function timed(
  series: StoreOperationSeries,
  call: () => Promise<unknown>,
  writes?: StoreMetrics,
): Promise<unknown> {
  const start = performance.now();
  let pending: Promise<unknown>;
  try {
    pending = call();
  } catch (error) {
    // A store is to reject, not throw; either way the caller sees a rejection.
    series.failed((performance.now() - start) / 1000, codeOf(error));
    return Promise.reject(error);
  }
  return pending.then(
    (result) => {
      series.succeeded((performance.now() - start) / 1000);
      writes?.revisionsWritten(1);
      return result;
    },
    (error: unknown) => {
      series.failed((performance.now() - start) / 1000, codeOf(error));
      throw error;
    },
  );
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
