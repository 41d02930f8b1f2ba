import type { WatchStreamResponse, WatchVariablesResponse } from "@statebridge/proto";

/** One stream watched for silence. */
export interface SilenceWatch {
  /** The stream is now waiting for its next message: silence counts from now. */
  waiting(): void;
  /** A message arrived and the consumer is busy with it: silence does not count. */
  heard(): void;
  /**
   * Bytes arrived (part of a message, maybe): while waiting, silence counts from now. A large
   * message takes a while to arrive; the stream is not silent meanwhile.
   */
  receiving(): void;
  /**
   * Lets this stream be silent for at least `limitMs` (never less than the monitor's limit):
   * for a server that announced a longer heartbeat interval than the client expected.
   */
  allow(limitMs: number): void;
  /** Stops watching this stream. Idempotent. */
  stop(): void;
}

/** Watches many streams for silence with one timer. */
export interface SilenceMonitor {
  /** Starts watching a stream (waiting from now); `onSilent` is called once if it goes silent. */
  watch(onSilent: () => void): SilenceWatch;
}

interface Entry {
  since: number | undefined;
  limit: number;
  readonly onSilent: () => void;
}

/**
 * Creates a {@link SilenceMonitor} that calls a stream silent once it has waited `limitMs`
 * without a message. One timer ticks every quarter of the limit while any stream is watched,
 * so a silence is noticed between 1 and 1.25 limits after it began, and a message costs a
 * clock read instead of a timer reset.
 */
export function createSilenceMonitor(limitMs: number): SilenceMonitor {
  const entries = new Set<Entry>();
  let ticker: NodeJS.Timeout | undefined;

  function tick(): void {
    const now = performance.now();
    for (const entry of entries) {
      if (entry.since === undefined || now - entry.since < entry.limit) continue;
      entries.delete(entry);
      entry.onSilent();
    }
    if (entries.size === 0) stopTicker();
  }

  function stopTicker(): void {
    clearInterval(ticker);
    ticker = undefined;
  }

  return {
    watch(onSilent) {
      const entry: Entry = { since: performance.now(), limit: limitMs, onSilent };
      entries.add(entry);
      if (ticker === undefined) {
        ticker = setInterval(tick, Math.max(1, limitMs / 4));
        // The streams keep the process alive while they are open; the ticker need not.
        ticker.unref();
      }
      return {
        waiting() {
          entry.since = performance.now();
        },
        heard() {
          entry.since = undefined;
        },
        receiving() {
          if (entry.since !== undefined) entry.since = performance.now();
        },
        allow(allowedMs) {
          entry.limit = Math.max(limitMs, allowedMs);
        },
        stop() {
          entries.delete(entry);
          if (entries.size === 0) stopTicker();
        },
      };
    },
  };
}

/**
 * The heartbeat interval a server announces in a watch stream's `created` or heartbeat
 * message, in milliseconds; 0 for any other message or a server that does not announce one.
 */
export function announcedIntervalMs(
  kind: WatchStreamResponse["kind"] | WatchVariablesResponse["kind"],
): number {
  if (kind.case === "created") return kind.value.heartbeatIntervalMs;
  if (kind.case === "heartbeat") return kind.value.intervalMs;
  return 0;
}
