import { setMaxListeners } from "node:events";
import { backoffDelay as backoff, sleep } from "@statebridge/grpc-wire";
import { StateError } from "@statebridge/state-provider";
import { stateErrorOf } from "./error-translation.js";

/** How reads are retried when the server is unavailable. */
export interface RetryOptions {
  /** Tries in all, the first included. Default 4; 1 disables retrying. */
  readonly attempts?: number;
  /** Delay before the first retry, in milliseconds; it doubles on each retry. Default 50. */
  readonly baseDelayMs?: number;
  /** Longest delay between two tries, in milliseconds. Default 1,000. */
  readonly maxDelayMs?: number;
}

/** What every call to the server receives: its deadline and the provider's abort signal. */
export interface CallOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** Runs calls to the server under one deadline, one abort signal and one error seam. */
export interface CallPolicy {
  /**
   * Runs a call once. Used for writes, which are not retried blindly: a write that timed out
   * may have been applied.
   */
  once<T>(call: (options: CallOptions) => Promise<T>): Promise<T>;
  /**
   * Runs a call that is safe to repeat (a read, or get-or-create), retrying `unavailable` with
   * exponential backoff and jitter. All tries share the one deadline, so a dead server gives
   * `unavailable` within `deadlineMs`.
   */
  idempotent<T>(call: (options: CallOptions) => Promise<T>): Promise<T>;
  /** Cancels every call in flight; later calls fail with `closed`. */
  close(): void;
  /** True after {@link CallPolicy.close}. */
  readonly closed: boolean;
}

/** Options of {@link createCallPolicy}. */
export interface CallPolicyOptions {
  readonly deadlineMs: number;
  readonly retry: Required<RetryOptions>;
  /** The server's address, named in `unavailable` messages. */
  readonly target: string;
  /** Names the provider in `closed` messages. */
  readonly label: string;
}

/** Creates the policy every call of one provider runs under. */
export function createCallPolicy(options: CallPolicyOptions): CallPolicy {
  const controller = new AbortController();
  // Every call in flight listens to this one signal.
  setMaxListeners(0, controller.signal);
  const { deadlineMs, retry, target, label } = options;

  function assertOpen(): void {
    if (controller.signal.aborted) throw new StateError("closed", `${label} is closed`);
  }

  function translate(error: unknown): StateError {
    return stateErrorOf(error, { closed: controller.signal.aborted, target });
  }

  return {
    get closed() {
      return controller.signal.aborted;
    },
    async once(call) {
      assertOpen();
      try {
        return await call({ timeoutMs: deadlineMs, signal: controller.signal });
      } catch (error) {
        throw translate(error);
      }
    },
    async idempotent(call) {
      assertOpen();
      const deadline = Date.now() + deadlineMs;
      for (let attempt = 1; ; attempt++) {
        const remaining = deadline - Date.now();
        try {
          return await call({ timeoutMs: Math.max(1, remaining), signal: controller.signal });
        } catch (error) {
          const translated = translate(error);
          if (translated.code !== "unavailable" || attempt >= retry.attempts) throw translated;
          const delay = backoffDelay(attempt, retry);
          if (Date.now() + delay >= deadline) throw translated;
          await sleep(delay, controller.signal);
          if (controller.signal.aborted)
            throw new StateError("closed", `${label} is closed`, { cause: translated });
        }
      }
    },
    close() {
      controller.abort(new StateError("closed", `${label} is closed`));
    },
  };
}

/**
 * The delay before retry number `attempt` (1 for the first retry): the exponential step
 * capped at `maxDelayMs`, with "equal jitter" (half fixed, half random) so that clients that
 * failed together do not retry together.
 */
export function backoffDelay(attempt: number, retry: Required<RetryOptions>): number {
  return backoff(attempt, { baseDelayMs: retry.baseDelayMs, maxDelayMs: retry.maxDelayMs, jitter: 0.5 });
}
