import type {
  Variable,
  VariableValue,
  WatchEvent,
  WatchEventType,
  Watcher,
  WatchHandle,
  WatchInfo,
} from "@statebridge/state-provider";
import {
  createDeliveryScheduler,
  createObserverIndex,
  type DeliveryQueue,
  type ObserverIndex,
} from "@statebridge/state-provider/change-feed";

/** The kind of one recorded change: a write (set or batch member) or a deletion. */
export type ChangeKind = "value_change" | "deleted";

/**
 * One variable's change within a revision. For a write, `variable` is the variable after it;
 * for a deletion, the variable as it was when deleted.
 */
export interface Change {
  readonly kind: ChangeKind;
  readonly variable: Variable;
  /** The value before the change. */
  readonly oldValue: VariableValue;
  /** Who made the change. */
  readonly source: string;
  /** Wall-clock epoch milliseconds of the change. */
  readonly timestamp: number;
}

/**
 * The changes one revision made. A registration or an import into a non-empty session takes a
 * revision too, with no changes a watcher can see (nobody can watch a variable before it exists).
 */
export interface RevisionRecord {
  readonly revision: number;
  readonly changes: readonly Change[];
}

/** What {@link WatchHub.open} needs to start a watch. */
export interface WatchSpecification {
  /** The identifiers as the watcher named them, without repeats. */
  readonly identifiers: readonly string[];
  /** Each watched variable's id → the identifier the watcher used for it (the first one given). */
  readonly identifierById: ReadonlyMap<string, string>;
  readonly watcher: Watcher;
  readonly filter: ((event: WatchEvent) => boolean) | undefined;
  readonly signal: AbortSignal | undefined;
  /** The revision the watch counts as seen before any event is processed. */
  readonly startRevision: number;
  /** Events to deliver before any later change: initial values, a replay or a resync. */
  readonly startingEvents: readonly WatchEvent[];
}

/**
 * Delivers changes to the watches of one session.
 *
 * Each watch has its own queue (`@statebridge/state-provider/change-feed`). A committed mutation appends its
 * events to the queue of every matching watch, synchronously, and one delivery loop per session
 * — started in a microtask, never from inside the mutating call — delivers them in commit order,
 * one revision's events together. A watcher that writes from its callback therefore appends
 * behind events already queued, and cannot reorder what other watchers see. A watcher that
 * returns a promise pauses only its own queue until the promise settles.
 */
export interface WatchHub {
  /** Starts a watch; its starting events are queued before any later change. */
  open(specification: WatchSpecification): WatchHandle;
  /** Queues the changes of one committed revision for every matching watch. */
  publish(record: RevisionRecord): void;
  /** The live watches. */
  list(): WatchInfo[];
  /** Closes every watch (their `done` promises resolve with `undefined`). */
  closeAll(): void;
}

/** Builds one watch event. */
export function createWatchEvent(
  type: WatchEventType,
  identifier: string,
  variable: Variable,
  oldValue: VariableValue | undefined,
  revision: number,
  source: string,
  timestamp: number,
): WatchEvent {
  return {
    type,
    identifier,
    id: variable.id,
    name: variable.name,
    variableType: variable.type,
    oldValue,
    newValue: type === "deleted" ? undefined : variable.value,
    version: variable.version,
    revision,
    source,
    metadata: variable.metadata,
    timestamp,
  };
}

interface WatchState {
  readonly watchId: string;
  readonly identifiers: readonly string[];
  /** Watched variable id → identifier; a deleted variable leaves it. */
  readonly targets: Map<string, string>;
  readonly startedAt: number;
  readonly queue: DeliveryQueue<WatchEvent>;
  /** The revision a resume would start from, fixed when the watch closed. */
  closedRevision: number;
  detachSignal: (() => void) | undefined;
  resolveDone: (value: undefined) => void;
}

/**
 * Creates the watch dispatcher of one session.
 * @param now - the wall clock, for `startedAt`.
 * @param currentRevision - the session's revision, reported by a watch with nothing pending.
 */
export function createWatchHub(now: () => number, currentRevision: () => number): WatchHub {
  const scheduler = createDeliveryScheduler();
  const index: ObserverIndex<WatchState, Change> = createObserverIndex({
    idOf: (change) => change.variable.id,
    deletes: (change) => change.kind === "deleted",
  });
  let watchCounter = 0;

  function queueChanges(watch: WatchState, changes: readonly Change[], record: RevisionRecord): void {
    for (const change of changes) {
      const identifier = watch.targets.get(change.variable.id) as string;
      watch.queue.push(
        createWatchEvent(
          change.kind,
          identifier,
          change.variable,
          change.oldValue,
          record.revision,
          change.source,
          change.timestamp,
        ),
      );
    }
  }

  function close(watch: WatchState): void {
    if (watch.queue.closed) return;
    watch.closedRevision = revisionOf(watch);
    watch.queue.close();
    index.remove(watch);
    watch.detachSignal?.();
    watch.detachSignal = undefined;
    watch.resolveDone(undefined);
  }

  function revisionOf(watch: WatchState): number {
    const queue = watch.queue;
    if (queue.closed) return watch.closedRevision;
    // A live watch with nothing pending has seen every revision so far: no change up to the
    // current one concerns it, so that is where it would resume.
    if (queue.idle) return Math.max(queue.processedRevision, currentRevision());
    return queue.processedRevision;
  }

  function infoOf(watch: WatchState): WatchInfo {
    const queue = watch.queue;
    return {
      watchId: watch.watchId,
      identifiers: watch.identifiers,
      revision: revisionOf(watch),
      received: queue.received,
      filtered: queue.filtered,
      failed: queue.failed,
      delivered: queue.delivered,
      reconnects: 0,
      startedAt: watch.startedAt,
      state: queue.closed ? "closed" : "active",
    };
  }

  return {
    open(specification) {
      watchCounter++;
      let resolveDone: (value: undefined) => void = () => {};
      const done = new Promise<undefined>((resolve) => {
        resolveDone = resolve;
      });
      const watch: WatchState = {
        watchId: `watch_${watchCounter}`,
        identifiers: Object.freeze([...specification.identifiers]),
        targets: new Map(specification.identifierById),
        startedAt: now(),
        queue: scheduler.createQueue({
          watcher: specification.watcher,
          filter: specification.filter,
          startRevision: specification.startRevision,
        }),
        closedRevision: specification.startRevision,
        detachSignal: undefined,
        resolveDone,
      };
      const handle: WatchHandle = {
        watchId: watch.watchId,
        close: async () => close(watch),
        info: () => infoOf(watch),
        done,
      };
      const signal = specification.signal;
      if (signal?.aborted) {
        watch.queue.close();
        resolveDone(undefined);
        return handle;
      }
      index.add(watch);
      if (signal !== undefined) {
        const onAbort = () => close(watch);
        signal.addEventListener("abort", onAbort, { once: true });
        watch.detachSignal = () => signal.removeEventListener("abort", onAbort);
      }
      for (const event of specification.startingEvents) watch.queue.push(event);
      return handle;
    },

    publish(record) {
      if (index.size === 0) return;
      index.dispatch(record, queueChanges);
    },

    list() {
      const result: WatchInfo[] = [];
      for (const watch of index.values()) result.push(infoOf(watch));
      return result;
    },

    closeAll() {
      for (const watch of [...index.values()]) close(watch);
    },
  };
}
