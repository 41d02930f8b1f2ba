import type {
  Variable,
  VariableValue,
  WatchEvent,
  WatchEventType,
  Watcher,
  WatchHandle,
  WatchInfo,
} from "@statebridge/state-provider";
import type { Change } from "./change-history.js";

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
 * Each watch has its own queue. A committed mutation appends its events to the queue of every
 * matching watch, synchronously, and one dispatch loop per session — started in a microtask,
 * never from inside the mutating call — delivers them in commit order, one revision's events
 * together. A watcher that writes from its callback therefore appends behind events already
 * queued, and cannot reorder what other watchers see. A watcher that returns a promise pauses
 * only its own queue until the promise settles.
 */
export interface WatchHub {
  /** Starts a watch; its starting events are queued before any later change. */
  open(specification: WatchSpecification): WatchHandle;
  /** Queues the changes of one committed revision for every matching watch. */
  publish(revision: number, changes: readonly Change[]): void;
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
  readonly identifierById: ReadonlyMap<string, string>;
  readonly watcher: Watcher;
  readonly filter: ((event: WatchEvent) => boolean) | undefined;
  readonly startedAt: number;
  readonly queue: WatchEvent[];
  /** Index of the next event to deliver in `queue`. */
  head: number;
  /** Revision of the last event queued, to hand out one dispatch turn per revision. */
  lastQueuedRevision: number;
  /** Revision of the last event processed (delivered, filtered out or failed). */
  processedRevision: number;
  /** Dispatch turns that found the watch paused and must be handed out again on resume. */
  stalledTurns: number;
  /** The watcher returned a promise that has not settled yet. */
  paused: boolean;
  closed: boolean;
  received: number;
  filtered: number;
  failed: number;
  delivered: number;
  detachSignal: (() => void) | undefined;
  resolveDone: (value: undefined) => void;
}

/**
 * Creates the watch dispatcher of one session.
 * @param now - the wall clock, for `startedAt`.
 * @param currentRevision - the session's revision, reported by a watch with nothing pending.
 */
export function createWatchHub(now: () => number, currentRevision: () => number): WatchHub {
  const watches = new Map<string, WatchState>();
  const watchesByVariableId = new Map<string, Set<WatchState>>();
  // The dispatch loop's turns, in commit order: each names a watch whose oldest queued revision
  // is to be delivered.
  let turns: (WatchState | undefined)[] = [];
  let nextTurn = 0;
  let dispatchScheduled = false;
  let watchCounter = 0;

  function scheduleDispatch(): void {
    if (dispatchScheduled) return;
    dispatchScheduled = true;
    queueMicrotask(dispatch);
  }

  function dispatch(): void {
    try {
      // Turns added while this loop runs (a watcher writing from its callback) are taken by the
      // same loop, after every turn already queued.
      while (nextTurn < turns.length) {
        const watch = turns[nextTurn] as WatchState;
        turns[nextTurn] = undefined;
        nextTurn++;
        if (watch.closed) continue;
        if (watch.paused) {
          watch.stalledTurns++;
          continue;
        }
        deliverOldestRevision(watch);
      }
      turns = [];
      nextTurn = 0;
    } finally {
      dispatchScheduled = false;
      // Only if something above failed unexpectedly: pick up the remaining turns later.
      if (nextTurn < turns.length) scheduleDispatch();
    }
  }

  function enqueue(watch: WatchState, event: WatchEvent): void {
    watch.queue.push(event);
    watch.received++;
    if (watch.lastQueuedRevision !== event.revision) {
      watch.lastQueuedRevision = event.revision;
      turns.push(watch);
    }
  }

  function deliverOldestRevision(watch: WatchState): void {
    const queue = watch.queue;
    if (watch.head >= queue.length) return;
    const revision = (queue[watch.head] as WatchEvent).revision;
    while (watch.head < queue.length && !watch.closed) {
      const event = queue[watch.head] as WatchEvent;
      if (event.revision !== revision) break;
      queue[watch.head] = undefined as unknown as WatchEvent;
      watch.head++;
      watch.processedRevision = revision;
      if (watch.filter !== undefined) {
        const filter = watch.filter;
        let keep: boolean;
        try {
          keep = filter(event);
        } catch {
          watch.failed++;
          continue;
        }
        if (!keep) {
          watch.filtered++;
          continue;
        }
      }
      watch.delivered++;
      const watcher = watch.watcher;
      let result: void | Promise<void>;
      let pending = false;
      try {
        result = watcher(event);
        pending = typeof result === "object" && result !== null && typeof result.then === "function";
      } catch {
        watch.failed++;
        continue;
      }
      if (pending) {
        watch.paused = true;
        // The rest of this revision, if any, needs a turn of its own once the watcher settles.
        if (watch.head < queue.length && (queue[watch.head] as WatchEvent).revision === revision) {
          watch.stalledTurns++;
        }
        Promise.resolve(result).then(
          () => resume(watch),
          () => {
            watch.failed++;
            resume(watch);
          },
        );
        break;
      }
    }
    if (watch.head >= queue.length) {
      queue.length = 0;
      watch.head = 0;
    }
  }

  function resume(watch: WatchState): void {
    watch.paused = false;
    if (watch.closed || watch.stalledTurns === 0) return;
    for (let index = 0; index < watch.stalledTurns; index++) turns.push(watch);
    watch.stalledTurns = 0;
    scheduleDispatch();
  }

  function close(watch: WatchState): void {
    if (watch.closed) return;
    watch.processedRevision = revisionOf(watch);
    watch.closed = true;
    watch.queue.length = 0;
    watch.head = 0;
    watches.delete(watch.watchId);
    for (const id of watch.identifierById.keys()) {
      const set = watchesByVariableId.get(id);
      if (set === undefined) continue;
      set.delete(watch);
      if (set.size === 0) watchesByVariableId.delete(id);
    }
    watch.detachSignal?.();
    watch.detachSignal = undefined;
    watch.resolveDone(undefined);
  }

  function revisionOf(watch: WatchState): number {
    // A live watch with nothing pending has seen every revision so far: no change up to the
    // current one concerns it, so that is where it would resume.
    if (!watch.closed && !watch.paused && watch.head >= watch.queue.length) {
      return Math.max(watch.processedRevision, currentRevision());
    }
    return watch.processedRevision;
  }

  function infoOf(watch: WatchState): WatchInfo {
    return {
      watchId: watch.watchId,
      identifiers: watch.identifiers,
      revision: revisionOf(watch),
      received: watch.received,
      filtered: watch.filtered,
      failed: watch.failed,
      delivered: watch.delivered,
      reconnects: 0,
      startedAt: watch.startedAt,
      state: watch.closed ? "closed" : "active",
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
        identifierById: specification.identifierById,
        watcher: specification.watcher,
        filter: specification.filter,
        startedAt: now(),
        queue: [],
        head: 0,
        lastQueuedRevision: -1,
        processedRevision: specification.startRevision,
        stalledTurns: 0,
        paused: false,
        closed: false,
        received: 0,
        filtered: 0,
        failed: 0,
        delivered: 0,
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
        watch.closed = true;
        resolveDone(undefined);
        return handle;
      }
      watches.set(watch.watchId, watch);
      for (const id of specification.identifierById.keys()) {
        let set = watchesByVariableId.get(id);
        if (set === undefined) {
          set = new Set();
          watchesByVariableId.set(id, set);
        }
        set.add(watch);
      }
      if (signal !== undefined) {
        const onAbort = () => close(watch);
        signal.addEventListener("abort", onAbort, { once: true });
        watch.detachSignal = () => signal.removeEventListener("abort", onAbort);
      }
      if (specification.startingEvents.length > 0) {
        for (const event of specification.startingEvents) enqueue(watch, event);
        scheduleDispatch();
      }
      return handle;
    },

    publish(revision, changes) {
      if (watchesByVariableId.size === 0) return;
      let queued = false;
      for (const change of changes) {
        const id = change.variable.id;
        const set = watchesByVariableId.get(id);
        if (set === undefined) continue;
        for (const watch of set) {
          const identifier = watch.identifierById.get(id) as string;
          enqueue(
            watch,
            createWatchEvent(
              change.kind,
              identifier,
              change.variable,
              change.oldValue,
              revision,
              change.source,
              change.timestamp,
            ),
          );
        }
        queued = true;
        // A deleted variable gets no further events, even if its id came back through an import.
        if (change.kind === "deleted") watchesByVariableId.delete(id);
      }
      if (queued) scheduleDispatch();
    },

    list() {
      const result: WatchInfo[] = [];
      for (const watch of watches.values()) result.push(infoOf(watch));
      return result;
    },

    closeAll() {
      for (const watch of [...watches.values()]) close(watch);
    },
  };
}
