import { getHeapStatistics } from "node:v8";
import { nonNegativeInteger, positive, positiveInteger } from "./store-options.js";
import type { SessionStoreOptions } from "./types.js";

/** {@link SessionStoreOptions} of the in-memory store, checked, with every default filled in. */
export interface MemoryStoreSettings {
  readonly ttlSeconds: number;
  readonly sweepIntervalMs: number;
  readonly maxSessions: number;
  readonly maxVariables: number;
  readonly maxValueBytes: number;
  readonly maxWatchers: number;
  readonly historySize: number;
  readonly historyBytes: number;
  /** Bytes of values and history the store may hold: half the V8 heap limit by default. */
  readonly maxMemoryBytes: number;
  readonly endedRemembered: number;
  readonly now: () => number;
  readonly onListenerError: (error: unknown) => void;
}

/**
 * Fills in the in-memory store's defaults and checks what was given.
 *
 * @throws `invalid_value` for an option that is not a positive number (or, for `historySize`
 *   and `endedSessionsRemembered`, a non-negative integer).
 */
export function resolveMemoryStoreOptions(options: SessionStoreOptions): MemoryStoreSettings {
  return {
    ttlSeconds: positive(options.ttlSeconds, 3600, "ttlSeconds"),
    sweepIntervalMs: positive(options.sweepIntervalMs, 30_000, "sweepIntervalMs"),
    maxSessions: positiveInteger(options.maxSessions, 10_000, "maxSessions"),
    maxVariables: positiveInteger(options.maxVariablesPerSession, 100_000, "maxVariablesPerSession"),
    maxValueBytes: positiveInteger(options.maxValueBytes, 64 * 1024 * 1024, "maxValueBytes"),
    maxWatchers: positiveInteger(options.maxWatchersPerSession, 100_000, "maxWatchersPerSession"),
    historySize: nonNegativeInteger(options.historySize, 1000, "historySize"),
    historyBytes: positiveInteger(options.historyBytes, 64 * 1024 * 1024, "historyBytes"),
    maxMemoryBytes: positiveInteger(
      options.maxMemoryBytes,
      Math.floor(getHeapStatistics().heap_size_limit / 2),
      "maxMemoryBytes",
    ),
    endedRemembered: nonNegativeInteger(options.endedSessionsRemembered, 10_000, "endedSessionsRemembered"),
    now: options.now ?? (() => Date.now()),
    onListenerError: options.onListenerError ?? (() => {}),
  };
}
