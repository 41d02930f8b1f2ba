import type { Revisioned } from "./revision-history.js";

/** Options of {@link DeliveryScheduler.createQueue}. */
export interface DeliveryQueueOptions<E extends Revisioned> {
  /** Called one event at a time; if it returns a promise, the queue waits until it settles. */
  readonly watcher: (event: E) => unknown;
  /** Only events it keeps reach the watcher; a throwing filter counts the event as failed. */
  readonly filter?: ((event: E) => boolean) | undefined;
  /** The revision counted as processed before any event is. Default 0. */
  readonly startRevision?: number;
}

/**
 * One watcher's queue: events are handed to the watcher in the order they were pushed, one
 * revision's events together, and a watcher that returns a promise pauses this queue only
 * until the promise settles. A throwing or rejecting watcher is counted and delivery goes on.
 */
export interface DeliveryQueue<E extends Revisioned> {
  /** Appends an event (ignored once closed) and starts delivery if none is running. */
  push(event: E): void;
  /** Events pushed. */
  readonly received: number;
  /** Events the filter kept from the watcher. */
  readonly filtered: number;
  /** Events whose filter or watcher threw, or whose watcher's promise rejected. */
  readonly failed: number;
  /** Events handed to the watcher (those that failed in it included). */
  readonly delivered: number;
  /** The revision of the last event processed (delivered, filtered out or failed). */
  readonly processedRevision: number;
  /** True when nothing is queued, no watcher promise is pending and the queue is open. */
  readonly idle: boolean;
  readonly closed: boolean;
  /** Stops delivery at once (also from inside the watcher) and drops what is queued. Idempotent. */
  close(): void;
}

/**
 * The delivery loop of one session: the turns of all its queues in push order, so that a
 * watcher writing from its callback queues behind what is already queued and cannot reorder
 * what other watchers see. Each turn delivers the oldest queued revision of one queue.
 */
export interface DeliveryScheduler {
  createQueue<E extends Revisioned>(options: DeliveryQueueOptions<E>): DeliveryQueue<E>;
}

/** Options of {@link createDeliveryScheduler}. */
export interface DeliverySchedulerOptions {
  /**
   * Start delivering in a microtask, never from inside the call that pushed (default true);
   * false delivers at once when no delivery is running.
   */
  readonly deferred?: boolean;
}

/** A queue as the loop sees it, whatever its event type. */
interface Turn {
  readonly closed: boolean;
  readonly paused: boolean;
  stalledTurns: number;
  deliverOldestRevision(): void;
}

/** Creates a delivery loop; its queues share one order of turns. */
export function createDeliveryScheduler(options: DeliverySchedulerOptions = {}): DeliveryScheduler {
  const deferred = options.deferred ?? true;
  let turns: (Turn | undefined)[] = [];
  let nextTurn = 0;
  let running = false;

  function schedule(): void {
    if (running) return;
    running = true;
    if (deferred) queueMicrotask(dispatch);
    else dispatch();
  }

  function dispatch(): void {
    try {
      // Turns added while this loop runs (a watcher writing from its callback) are taken by the
      // same loop, after every turn already queued.
      while (nextTurn < turns.length) {
        const turn = turns[nextTurn] as Turn;
        turns[nextTurn] = undefined;
        nextTurn++;
        if (turn.closed) continue;
        if (turn.paused) {
          turn.stalledTurns++;
          continue;
        }
        turn.deliverOldestRevision();
      }
      turns = [];
      nextTurn = 0;
    } finally {
      running = false;
      // Only if something above failed unexpectedly: pick up the remaining turns later.
      if (nextTurn < turns.length) {
        running = true;
        queueMicrotask(dispatch);
      }
    }
  }

  function addTurn(turn: Turn, count: number): void {
    for (let index = 0; index < count; index++) turns.push(turn);
    schedule();
  }

  return {
    createQueue: (queueOptions) => new Queue(queueOptions, addTurn),
  };
}

class Queue<E extends Revisioned> implements DeliveryQueue<E>, Turn {
  received = 0;
  filtered = 0;
  failed = 0;
  delivered = 0;
  processedRevision: number;
  closed = false;
  paused = false;
  /** Turns that found the queue paused and are handed out again when it resumes. */
  stalledTurns = 0;
  private readonly watcher: (event: E) => unknown;
  private readonly filter: ((event: E) => boolean) | undefined;
  private readonly addTurn: (turn: Turn, count: number) => void;
  private queue: (E | undefined)[] = [];
  /** Index of the next event to deliver in `queue`. */
  private head = 0;
  /** Revision of the last event queued: one turn per run of events of one revision. */
  private lastQueuedRevision = Number.NaN;

  constructor(options: DeliveryQueueOptions<E>, addTurn: (turn: Turn, count: number) => void) {
    this.watcher = options.watcher;
    this.filter = options.filter;
    this.processedRevision = options.startRevision ?? 0;
    this.addTurn = addTurn;
  }

  get idle(): boolean {
    return !this.closed && !this.paused && this.head >= this.queue.length;
  }

  push(event: E): void {
    if (this.closed) return;
    this.queue.push(event);
    this.received++;
    if (this.lastQueuedRevision !== event.revision) {
      this.lastQueuedRevision = event.revision;
      this.addTurn(this, 1);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
  }

  deliverOldestRevision(): void {
    const queue = this.queue;
    if (this.head >= queue.length) return;
    const revision = (queue[this.head] as E).revision;
    while (this.head < queue.length && !this.closed) {
      const event = queue[this.head] as E;
      if (event.revision !== revision) break;
      queue[this.head] = undefined;
      this.head++;
      this.processedRevision = revision;
      if (this.filter !== undefined) {
        let keep: boolean;
        try {
          keep = this.filter(event);
        } catch {
          this.failed++;
          continue;
        }
        if (!keep) {
          this.filtered++;
          continue;
        }
      }
      this.delivered++;
      let result: unknown;
      try {
        result = this.watcher(event);
      } catch {
        this.failed++;
        continue;
      }
      if (isPromiseLike(result)) {
        this.paused = true;
        // The rest of this revision, if any, needs a turn of its own once the watcher settles.
        if (this.head < queue.length && (queue[this.head] as E).revision === revision) this.stalledTurns++;
        Promise.resolve(result).then(
          () => this.resume(),
          () => {
            this.failed++;
            this.resume();
          },
        );
        break;
      }
    }
    if (this.head >= queue.length && !this.closed) {
      queue.length = 0;
      this.head = 0;
      // Everything queued was handed out: an event pushed now, of any revision, needs a turn.
      this.lastQueuedRevision = Number.NaN;
    }
  }

  private resume(): void {
    this.paused = false;
    if (this.closed || this.stalledTurns === 0) return;
    const count = this.stalledTurns;
    this.stalledTurns = 0;
    this.addTurn(this, count);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}
