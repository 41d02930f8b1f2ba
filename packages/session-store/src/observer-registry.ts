import type { StateError, WatchEvent } from "@statebridge/state-provider";
import type { ChangeRecord, VariableChange } from "./change-record.js";
import type { WatchEventBatch, WatchListener } from "./types.js";

/** One registered watcher: a listener and the variables it watches. */
export interface Observer {
  /** Watched variable ids, each with the identifier the watcher named it by. */
  readonly targets: ReadonlyMap<string, string>;
  /**
   * The revision up to which this observer has been served (its snapshot, its replay, or
   * the last batch handed to it). Live records at or below it are not sent again.
   */
  readonly deliveredThrough: number;
  /** True once removed or ended; nothing more reaches it. */
  readonly closed: boolean;
}

/**
 * The watchers of one session, indexed by variable id, so that a change reaches its
 * watchers by a loop over one set, whatever the number of other watchers. It consumes the
 * {@link ChangeRecord}s storage announces and knows nothing of storage or of streams.
 */
export interface ObserverRegistry {
  /** Observers registered and not removed. */
  readonly size: number;
  /**
   * Registers an observer; live changes after `deliveredThrough` will reach it.
   * @param targets - watched variable id → identifier as the watcher named it.
   */
  add(targets: ReadonlyMap<string, string>, listener: WatchListener, deliveredThrough: number): Observer;
  /** Unregisters an observer. @returns false if it was already gone. */
  remove(observer: Observer): boolean;
  /**
   * Hands one committed revision to every observer of a changed variable, as one batch per
   * observer. A deleted variable is then dropped from its observers' targets.
   */
  dispatch(record: ChangeRecord): void;
  /**
   * The events of a past record for the given targets (for replay); no events if none.
   * @param targets - variable id → identifier as the watcher named it.
   */
  eventsFor(targets: ReadonlyMap<string, string>, record: ChangeRecord): WatchEventBatch;
  /** Hands a batch (initial, replayed or resync events) to one observer, unless it is closed. */
  deliver(observer: Observer, batch: WatchEventBatch): void;
  /** Ends every observer with `error` (through `onEnd`) and empties the registry. */
  endAll(error: StateError): void;
}

interface MutableObserver extends Observer {
  readonly targets: Map<string, string>;
  readonly listener: WatchListener;
  deliveredThrough: number;
  closed: boolean;
}

/**
 * Creates an empty registry.
 * @param onListenerError - receives what a listener's `onEvents` or `onEnd` throws; a
 *   throwing listener never stops delivery to the others nor undoes the committed change.
 */
export function createObserverRegistry(onListenerError: (error: unknown) => void): ObserverRegistry {
  const observers = new Set<MutableObserver>();
  const byVariable = new Map<string, Set<MutableObserver>>();

  function deliver(observer: MutableObserver, batch: WatchEventBatch): void {
    if (observer.closed) return;
    if (batch.revision > observer.deliveredThrough) observer.deliveredThrough = batch.revision;
    try {
      observer.listener.onEvents(batch);
    } catch (error) {
      onListenerError(error);
    }
  }

  function forgetDeleted(change: VariableChange): void {
    const watchers = byVariable.get(change.id);
    if (watchers === undefined) return;
    for (const observer of watchers) observer.targets.delete(change.id);
    byVariable.delete(change.id);
  }

  return {
    get size() {
      return observers.size;
    },

    add(targets, listener, deliveredThrough) {
      const observer: MutableObserver = {
        targets: new Map(targets),
        listener,
        deliveredThrough,
        closed: false,
      };
      observers.add(observer);
      for (const id of observer.targets.keys()) {
        let watchers = byVariable.get(id);
        if (watchers === undefined) {
          watchers = new Set();
          byVariable.set(id, watchers);
        }
        watchers.add(observer);
      }
      return observer;
    },

    remove(observer) {
      const target = observer as MutableObserver;
      if (!observers.delete(target)) return false;
      target.closed = true;
      for (const id of target.targets.keys()) {
        const watchers = byVariable.get(id);
        if (watchers === undefined) continue;
        watchers.delete(target);
        if (watchers.size === 0) byVariable.delete(id);
      }
      return true;
    },

    dispatch(record) {
      const { revision, changes } = record;
      if (changes.length === 1) {
        const change = changes[0] as VariableChange;
        const watchers = byVariable.get(change.id);
        if (watchers === undefined) return;
        for (const observer of watchers) {
          // An observer added while this record was pending has it in its snapshot already.
          if (observer.closed || revision <= observer.deliveredThrough) continue;
          const identifier = observer.targets.get(change.id) as string;
          deliver(observer, {
            revision,
            events: [eventOf(change, identifier, revision)],
            bytes: change.bytes,
          });
        }
        if (change.kind === "deleted") forgetDeleted(change);
        return;
      }
      const batches = new Map<MutableObserver, { events: WatchEvent[]; bytes: number }>();
      for (const change of changes) {
        const watchers = byVariable.get(change.id);
        if (watchers === undefined) continue;
        for (const observer of watchers) {
          if (observer.closed || revision <= observer.deliveredThrough) continue;
          const identifier = observer.targets.get(change.id) as string;
          const event = eventOf(change, identifier, revision);
          const batch = batches.get(observer);
          if (batch === undefined) batches.set(observer, { events: [event], bytes: change.bytes });
          else {
            batch.events.push(event);
            batch.bytes += change.bytes;
          }
        }
      }
      for (const [observer, { events, bytes }] of batches) deliver(observer, { revision, events, bytes });
      for (const change of changes) if (change.kind === "deleted") forgetDeleted(change);
    },

    eventsFor(targets, record) {
      const events: WatchEvent[] = [];
      let bytes = 0;
      for (const change of record.changes) {
        const identifier = targets.get(change.id);
        if (identifier === undefined) continue;
        events.push(eventOf(change, identifier, record.revision));
        bytes += change.bytes;
      }
      return { revision: record.revision, events, bytes };
    },

    deliver(observer, batch) {
      deliver(observer as MutableObserver, batch);
    },

    endAll(error) {
      const ending = [...observers];
      observers.clear();
      byVariable.clear();
      for (const observer of ending) {
        observer.closed = true;
        try {
          observer.listener.onEnd(error);
        } catch (listenerError) {
          onListenerError(listenerError);
        }
      }
    },
  };
}

function eventOf(change: VariableChange, identifier: string, revision: number): WatchEvent {
  return {
    type: change.kind,
    identifier,
    id: change.id,
    name: change.name,
    variableType: change.variableType,
    oldValue: change.oldValue,
    newValue: change.newValue,
    version: change.version,
    revision,
    source: change.source,
    metadata: change.metadata,
    timestamp: change.timestamp,
  };
}
