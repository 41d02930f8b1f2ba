import type { StateError, WatchEvent } from "@statebridge/state-provider";
import { createObserverIndex } from "@statebridge/state-provider/change-feed";
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
 * The watchers of one session, indexed by variable id (the shared observer index of
 * `@statebridge/state-provider/change-feed`), so that a change reaches its watchers by a loop
 * over one set, whatever the number of other watchers. It consumes the {@link ChangeRecord}s
 * storage announces and knows nothing of storage or of streams.
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
  const index = createObserverIndex<MutableObserver, VariableChange>({
    idOf: (change) => change.id,
    deletes: (change) => change.kind === "deleted",
  });

  function deliver(observer: MutableObserver, batch: WatchEventBatch): void {
    if (observer.closed) return;
    if (batch.revision > observer.deliveredThrough) observer.deliveredThrough = batch.revision;
    try {
      observer.listener.onEvents(batch);
    } catch (error) {
      onListenerError(error);
    }
  }

  // The batch last built for a single change, shared by the next observers that name the
  // variable alike: a change reaching 10,000 watchers is one batch, which a stream can then
  // encode once (listeners only read batches).
  let sharedChange: VariableChange | undefined;
  let sharedIdentifier: string | undefined;
  let sharedBatch: WatchEventBatch | undefined;

  function deliverChanges(
    observer: MutableObserver,
    changes: readonly VariableChange[],
    record: ChangeRecord,
  ): void {
    const revision = record.revision;
    // An observer added while this record was pending has it in its snapshot already.
    if (observer.closed || revision <= observer.deliveredThrough) return;
    if (changes.length === 1) {
      // The common case, a single set or delete: no loop, an array of exactly one event.
      const change = changes[0] as VariableChange;
      const identifier = observer.targets.get(change.id) as string;
      if (sharedBatch === undefined || sharedChange !== change || sharedIdentifier !== identifier) {
        sharedBatch = { revision, events: [eventOf(change, identifier, revision)], bytes: change.bytes };
        sharedChange = change;
        sharedIdentifier = identifier;
      }
      deliver(observer, sharedBatch);
      return;
    }
    const events: WatchEvent[] = [];
    let bytes = 0;
    for (const change of changes) {
      events.push(eventOf(change, observer.targets.get(change.id) as string, revision));
      bytes += change.bytes;
    }
    deliver(observer, { revision, events, bytes });
  }

  return {
    get size() {
      return index.size;
    },

    add(targets, listener, deliveredThrough) {
      const observer: MutableObserver = {
        targets: new Map(targets),
        listener,
        deliveredThrough,
        closed: false,
      };
      index.add(observer);
      return observer;
    },

    remove(observer) {
      const target = observer as MutableObserver;
      if (!index.remove(target)) return false;
      target.closed = true;
      return true;
    },

    dispatch(record) {
      try {
        index.dispatch(record, deliverChanges);
      } finally {
        sharedChange = undefined;
        sharedIdentifier = undefined;
        sharedBatch = undefined;
      }
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
      for (const observer of index.clear()) {
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
