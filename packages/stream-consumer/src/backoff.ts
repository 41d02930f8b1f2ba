import { backoffDelay } from "@statebridge/grpc-wire";

/** How a broken watch stream is reopened. */
export interface ReconnectOptions {
  /** Delay before the first retry, in milliseconds. Default 1,000. */
  readonly baseDelayMs?: number;
  /** Longest delay between two retries, in milliseconds. Default 30,000. */
  readonly maxDelayMs?: number;
  /**
   * Failures in a row after which the watch gives up and ends with `unavailable`. A stream
   * that delivered a message resets the count. Default 10.
   */
  readonly maxFailures?: number;
  /**
   * Share of each delay that is random, 0..1, so that many clients cut off together do not
   * come back together. Default 0.2 (a delay of 1 s waits 0.8–1 s).
   */
  readonly jitter?: number;
  /** The source of randomness, returning [0, 1). Default `Math.random`; tests replace it. */
  readonly random?: () => number;
}

/** {@link ReconnectOptions} with every default applied. */
export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/** The defaults of {@link ReconnectOptions}, as in the original design: 1 s, 30 s, 10 failures. */
export const DEFAULT_RECONNECT: ResolvedReconnectOptions = Object.freeze({
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxFailures: 10,
  jitter: 0.2,
  random: Math.random,
});

/** Applies the defaults and checks the ranges. */
export function resolveReconnectOptions(options: ReconnectOptions = {}): ResolvedReconnectOptions {
  const resolved = { ...DEFAULT_RECONNECT, ...options };
  if (!(resolved.baseDelayMs >= 0) || !(resolved.maxDelayMs >= resolved.baseDelayMs)) {
    throw new RangeError(
      `reconnect delays must satisfy 0 <= baseDelayMs <= maxDelayMs, got ${resolved.baseDelayMs} and ${resolved.maxDelayMs}`,
    );
  }
  if (!Number.isInteger(resolved.maxFailures) || resolved.maxFailures < 1) {
    throw new RangeError(`reconnect maxFailures must be a positive integer, got ${resolved.maxFailures}`);
  }
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) {
    throw new RangeError(`reconnect jitter must be within 0..1, got ${resolved.jitter}`);
  }
  return resolved;
}

/**
 * The delay before retry number `failures` (1 for the first retry after a failure):
 * exponential from `baseDelayMs`, capped at `maxDelayMs`, then shortened by up to `jitter` of
 * itself at random, so that it never exceeds the cap.
 */
export function reconnectDelay(failures: number, options: ResolvedReconnectOptions): number {
  return backoffDelay(failures, options);
}
