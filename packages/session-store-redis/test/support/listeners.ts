import type { WatchEventBatch, WatchListener } from "@statebridge/session-store";
import { isStateError, type StateError } from "@statebridge/state-provider";

/** A listener that keeps what it is given. */
export function recorder() {
  const batches: WatchEventBatch[] = [];
  const ends: StateError[] = [];
  const listener: WatchListener = {
    onEvents: (batch) => batches.push(batch),
    onEnd: (error) => ends.push(error),
  };
  return { batches, ends, listener };
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function codeOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (isStateError(error)) return error.code;
    throw error;
  }
  return "none";
}
