import type { StateError, WatchEvent } from "@statebridge/state-provider";
import { waitFor } from "@statebridge/state-provider/testing";
import type { SessionStore, WatchEventBatch, WatchListener } from "../types.js";

/** A listener that keeps what it receives, in order, and can wait for it. */
export interface RecordingListener extends WatchListener {
  readonly batches: WatchEventBatch[];
  readonly ends: StateError[];
  /** Waits until a batch of `revision` or later has arrived. */
  waitForRevision(revision: number, timeoutMs: number): Promise<void>;
  /** Waits until the watch has ended. */
  waitForEnd(timeoutMs: number): Promise<StateError>;
}

/** Creates a {@link RecordingListener}. */
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
    async waitForRevision(revision, timeoutMs) {
      await waitFor(
        () => batches.some((batch) => batch.revision >= revision),
        `a batch of revision ${revision}`,
        timeoutMs,
        () =>
          [...summary(batches), ...ends.map((error) => `ended: ${error.code} ${error.message}`)].join(" | "),
      );
    },
    async waitForEnd(timeoutMs) {
      await waitFor(
        () => ends.length > 0,
        "the end of the watch",
        timeoutMs,
        () => summary(batches).join(" | "),
      );
      return ends[0] as StateError;
    },
  };
}

/** Batches as short text: `"4: value_change a=1, value_change b=2"`. */
export function summary(batches: readonly WatchEventBatch[]): string[] {
  return batches.map(
    (batch) =>
      `${batch.revision}: ${batch.events
        .map((event: WatchEvent) => `${event.type} ${event.identifier}=${String(event.newValue)}`)
        .join(", ")}`,
  );
}

/** Whether `sessionId` is listed as live; listing does not slide its TTL. */
export async function isListed(store: SessionStore, sessionId: string): Promise<boolean> {
  const page = await store.listSessions({ prefix: sessionId, limit: 1000 });
  return page.sessions.some((session) => session.sessionId === sessionId);
}

/**
 * Waits, without touching it, until `sessionId` is no longer listed: the session expired. Fails
 * after `timeoutMs`.
 */
export async function waitUntilExpired(
  store: SessionStore,
  sessionId: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await isListed(store, sessionId)) {
    if (Date.now() > deadline) {
      throw new Error(`session ${JSON.stringify(sessionId)} was still listed after ${timeoutMs} ms`);
    }
    await sleep(25);
  }
}

/** Resolves after `milliseconds`. */
export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * Writes `value` to `identifier` and waits until `sentinel` (a listener watching it) has the
 * change: every batch a watcher was due before that write has arrived by then. Twice, so that
 * a stray delivery to another listener of the same dispatch has had its turn too.
 */
export async function settle(
  store: SessionStore,
  sessionId: string,
  identifier: string,
  sentinel: RecordingListener,
  timeoutMs: number,
): Promise<void> {
  for (let round = 0; round < 2; round++) {
    const { revision } = await store.set(sessionId, identifier, round);
    await sentinel.waitForRevision(revision, timeoutMs);
  }
}
