import type { WatchEventBatch } from "@statebridge/session-store";
import type { WatchQueue, WatchQueueLimits } from "./watch-queue.js";

/**
 * Holds the batches a store hands a watch before its `watch()` promise resolves, until the
 * stream has queued `created` after which they go. They count with what the stream's queue
 * holds against the queue's limits, as if they were queued: past either limit `hold` refuses
 * and the stream cuts its consumer off, as it does when the queue refuses a push.
 */
export interface WatchOpenBuffer {
  /** Batches held. */
  readonly size: number;
  /** Bytes held: the sum of the held batches' `bytes`. */
  readonly bytes: number;
  /** Whether batches are still to be held: until {@link take} or {@link release}. */
  readonly holding: boolean;
  /**
   * Holds a batch. One batch always fits when nothing else waits; a batch that comes after
   * the stream's queue has ended is dropped, and the held ones with it.
   * @returns false if the batch would pass the queue's message or byte limit (refused).
   */
  hold(batch: WatchEventBatch): boolean;
  /**
   * Runs the store's `watch()` call: what the store hands over during the call itself (the
   * in-memory store's initial, resync or replayed events, which its history bounds) is held
   * whatever the limits, as the queue takes a replay. Its bytes still count.
   */
  unbounded<R>(call: () => R): R;
  /** The held batches, in the order they came; the buffer holds no more. */
  take(): readonly WatchEventBatch[];
  /** Drops the held batches (the stream ended before the watch opened); later ones too. */
  release(): void;
}

/** Creates a {@link WatchOpenBuffer} that counts with `queue` against `limits`. */
export function createWatchOpenBuffer(
  queue: Pick<WatchQueue<unknown>, "size" | "bytes" | "ended">,
  limits: WatchQueueLimits,
): WatchOpenBuffer {
  let batches: WatchEventBatch[] = [];
  let heldBytes = 0;
  let holding = true;
  let bounded = true;
  const release = (): void => {
    batches = [];
    heldBytes = 0;
    holding = false;
  };
  return {
    get size() {
      return batches.length;
    },
    get bytes() {
      return heldBytes;
    },
    get holding() {
      return holding;
    },
    hold(batch) {
      if (!holding || queue.ended) {
        release();
        return true;
      }
      const waiting = queue.size + batches.length;
      if (
        bounded &&
        waiting > 0 &&
        (waiting >= limits.messages || queue.bytes + heldBytes + batch.bytes > limits.bytes)
      ) {
        return false;
      }
      batches.push(batch);
      heldBytes += batch.bytes;
      return true;
    },
    unbounded(call) {
      bounded = false;
      try {
        return call();
      } finally {
        bounded = true;
      }
    },
    take() {
      const held = batches;
      release();
      return held;
    },
    release,
  };
}
