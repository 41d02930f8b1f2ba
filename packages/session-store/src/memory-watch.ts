import {
  assertFromRevision,
  describe,
  StateError,
  type Variable,
  type WatchEvent,
  type WatchEventType,
} from "@statebridge/state-provider";
import type { RevisionHistory } from "@statebridge/state-provider/change-feed";
import type { ChangeRecord } from "./change-record.js";
import type { Observer, ObserverRegistry } from "./observer-registry.js";
import type { SessionState } from "./session-state-types.js";
import { snapshotEvent } from "./snapshot-event.js";
import type { SessionStore, WatchEventBatch, WatchListener, WatchSubscription } from "./types.js";
import { RECORD_OVERHEAD_BYTES } from "./value-size.js";

/** What opening a watch reads of a live session of the in-memory store. */
export interface WatchedSession {
  readonly id: string;
  readonly incarnation: string;
  readonly state: SessionState;
  readonly history: RevisionHistory<ChangeRecord>;
  readonly observers: ObserverRegistry;
}

/** What opening a watch needs of the store around the session. */
export interface WatchContext {
  /** Most watchers per session. */
  readonly maxWatchers: number;
  /** Runs a delivery so that changes committed by listeners during it come after it. */
  exclusively(delivery: () => void): void;
  /** Told when the session's last watch closes: its TTL slides from then. */
  onLastClosed(): void;
}

/**
 * Opens a watch of a live session (see {@link SessionStore.watch}): checks the request,
 * registers the observer, then hands the initial, resync or replayed events to the listener
 * before returning, so that nothing falls between them and the live changes.
 */
export function openWatch(
  session: WatchedSession,
  identifiers: readonly string[],
  listener: WatchListener,
  watchOptions: Parameters<SessionStore["watch"]>[3] & object,
  context: WatchContext,
): WatchSubscription {
  if (!Array.isArray(identifiers) || identifiers.length === 0) {
    throw new StateError("invalid_value", "watch needs at least one identifier");
  }
  const { fromRevision, includeInitial, incarnation } = watchOptions;
  if (incarnation !== undefined && incarnation !== "" && incarnation !== session.incarnation) {
    throw new StateError(
      "session_expired",
      `session ${JSON.stringify(session.id)} was recreated (incarnation ${session.incarnation}, ` +
        `the watch followed ${String(incarnation).slice(0, 32)}): the session it watched ended, and ` +
        "this one's history is not its history",
    );
  }
  assertFromRevision(fromRevision);
  const current = session.state.revision;
  // Replay from the history when it reaches back to fromRevision; beyond the current
  // revision, the watcher saw revisions this session never had (it was recreated or
  // re-imported): like a history that does not reach back, that resyncs.
  const replay =
    fromRevision !== undefined && fromRevision >= session.history.base && fromRevision <= current;
  const targets = new Map<string, string>();
  const missing: string[] = [];
  for (const identifier of identifiers as readonly unknown[]) {
    if (typeof identifier !== "string") {
      throw new StateError(
        "invalid_value",
        `a watched identifier must be a string, got ${describe(identifier)}`,
      );
    }
    const variable = session.state.find(identifier);
    if (variable !== undefined) {
      if (!targets.has(variable.id)) targets.set(variable.id, identifier);
    } else if (fromRevision === undefined) {
      session.state.require(identifier);
    } else {
      missing.push(identifier);
    }
  }
  // A resumed watch may name variables deleted since: the deletion is replayed if it came
  // after fromRevision, and otherwise the watcher has had it already (or resyncs).
  const replayTargets = new Map(targets);
  const records = replay ? session.history.after(fromRevision as number) : [];
  if (missing.length > 0) {
    const unmatched = new Set(missing);
    for (const record of records) {
      for (const change of record.changes) {
        if (change.kind !== "deleted" || replayTargets.has(change.id)) continue;
        const identifier = unmatched.has(change.id)
          ? change.id
          : unmatched.has(change.name)
            ? change.name
            : undefined;
        if (identifier === undefined) continue;
        replayTargets.set(change.id, identifier);
        unmatched.delete(identifier);
      }
    }
    if (replayTargets.size === 0) session.state.require(missing[0] as string);
  }
  if (session.observers.size >= context.maxWatchers) {
    throw new StateError(
      "resource_exhausted",
      `session ${JSON.stringify(session.id)} has ${session.observers.size} watchers, the most allowed`,
    );
  }
  // Registered first: every change after `current` reaches it live, every change up to
  // `current` comes from the snapshot or the history below. Nothing falls between.
  const observer = session.observers.add(targets, listener, current);
  let startRevision = current;
  context.exclusively(() => {
    if (replay) {
      startRevision = fromRevision as number;
      for (const record of records) {
        if (observer.closed) break;
        const batch = session.observers.eventsFor(replayTargets, record);
        if (batch.events.length > 0) session.observers.deliver(observer, batch);
      }
    } else if (fromRevision !== undefined) {
      session.observers.deliver(observer, snapshot(session, observer, "resync", current));
    } else if (includeInitial === true) {
      session.observers.deliver(observer, snapshot(session, observer, "initial", current));
    }
  });
  const idOf = new Map<string, string>();
  for (const [id, identifier] of replayTargets) if (!idOf.has(identifier)) idOf.set(identifier, id);
  const subscription: WatchSubscription = {
    startRevision,
    incarnation: session.incarnation,
    ids: (identifiers as readonly string[]).map(
      (identifier) => idOf.get(identifier) ?? session.state.find(identifier)?.id ?? "",
    ),
    currentRevision: () => session.state.revision,
    close: () => {
      const watched = session.observers.size > 0;
      session.observers.remove(observer);
      if (watched && session.observers.size === 0) context.onLastClosed();
    },
  };
  return subscription;
}

/** The current values of an observer's targets, as one batch of `type` events. */
function snapshot(
  session: WatchedSession,
  observer: Observer,
  type: WatchEventType,
  revision: number,
): WatchEventBatch {
  let bytes = 0;
  const events: WatchEvent[] = [];
  for (const [id, identifier] of observer.targets) {
    const variable = session.state.find(id) as Variable;
    bytes += session.state.bytesOf(id) + RECORD_OVERHEAD_BYTES;
    events.push(snapshotEvent(type, identifier, variable, revision));
  }
  return { revision, events, bytes };
}
