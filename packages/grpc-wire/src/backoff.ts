import { MAX_TIMER_MS } from "./timeout.js";

/** The shape of an exponential backoff. */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  readonly baseDelayMs: number;
  /** Longest delay, in milliseconds. */
  readonly maxDelayMs: number;
  /**
   * Share of each delay that is random, 0..1, so that clients cut off together do not come
   * back together: 0.5 is "equal jitter", 0.2 waits 80–100 % of the step.
   */
  readonly jitter: number;
  /** The source of randomness, returning [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry): `baseDelayMs` doubled per
 * attempt, capped at `maxDelayMs`, then shortened by up to `jitter` of itself at random, so
 * that it never exceeds the cap.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const exponent = Math.max(0, attempt - 1);
  // 2 ** exponent overflows to Infinity long after the cap is reached; Math.min handles both.
  const step = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  const random = options.random ?? Math.random;
  return step * (1 - options.jitter * random());
}

/**
 * Resolves after `milliseconds` (at most {@link MAX_TIMER_MS}), or at once when `signal`
 * aborts; never rejects. The timer does not outlive the wait.
 */
export function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, Math.min(MAX_TIMER_MS, Math.max(0, milliseconds)));
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
