import type { StateError } from "@statebridge/state-provider";
import type { WatchEventBatch, WatchListener } from "../src/index.js";

/** A listener that keeps what it receives, for assertions. */
export interface RecordingListener extends WatchListener {
  readonly batches: WatchEventBatch[];
  readonly ends: StateError[];
}

export function recordingListener(): RecordingListener {
  const batches: WatchEventBatch[] = [];
  const ends: StateError[] = [];
  return {
    batches,
    ends,
    onEvents(batch) {
      batches.push(batch);
    },
    onEnd(error) {
      ends.push(error);
    },
  };
}

/** A clock that tests move by hand. */
export function manualClock(start = 1_700_000_000_000): {
  now: () => number;
  advance(milliseconds: number): void;
} {
  let time = start;
  return {
    now: () => time,
    advance(milliseconds) {
      time += milliseconds;
    },
  };
}
