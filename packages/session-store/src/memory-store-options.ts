import { getHeapStatistics } from "node:v8";
import { nonNegativeInteger, positive, positiveInteger } from "./store-options.js";
import type { SessionStoreOptions } from "./types.js";

/** The per-session and per-store limits every store applies, checked, with their defaults. */
export interface StoreLimitSettings {
  readonly maxSessions: number;
  readonly maxVariables: number;
  readonly maxValueBytes: number;
  readonly maxWatchers: number;
  readonly historySize: number;
  readonly historyBytes: number;
}

/** The options {@link resolveStoreLimits} reads: the same in every store. */
export type StoreLimitOptions = Pick<
  SessionStoreOptions,
  | "maxSessions"
  | "maxVariablesPerSession"
  | "maxValueBytes"
  | "maxWatchersPerSession"
  | "historySize"
  | "historyBytes"
>;

/**
 * Fills in the limits' defaults (10,000 sessions, 100,000 variables and watchers a session,
 * 64 MiB values and history, 1000 history entries) so that every store refuses alike.
 * @throws `invalid_value` for a limit that is not a positive (`historySize`: non-negative) integer.
 */
export function resolveStoreLimits(options: StoreLimitOptions): StoreLimitSettings {
  return {
    maxSessions: positiveInteger(options.maxSessions, 10_000, "maxSessions"),
    maxVariables: positiveInteger(options.maxVariablesPerSession, 100_000, "maxVariablesPerSession"),
    maxValueBytes: positiveInteger(options.maxValueBytes, 64 * 1024 * 1024, "maxValueBytes"),
    maxWatchers: positiveInteger(options.maxWatchersPerSession, 100_000, "maxWatchersPerSession"),
    historySize: nonNegativeInteger(options.historySize, 1000, "historySize"),
    historyBytes: positiveInteger(options.historyBytes, 64 * 1024 * 1024, "historyBytes"),
  };
}

/** {@link SessionStoreOptions} of the in-memory store, checked, with every default filled in. */
export interface MemoryStoreSettings extends StoreLimitSettings {
  readonly ttlSeconds: number;
  readonly sweepIntervalMs: number;
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
    ...resolveStoreLimits(options),
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
