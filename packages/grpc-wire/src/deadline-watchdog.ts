import { MAX_TIMER_MS } from "./timeout.js";

/** One deadline being watched; pass it to {@link DeadlineWatchdog.cancel} once it no longer matters. */
export interface WatchedDeadline {
  /** When it passes, in `performance.now()` milliseconds. */
  readonly at: number;
  readonly onExpired: () => void;
}

/**
 * Watches many deadlines with one timer. A call that finishes in time costs a set insertion
 * and a deletion, instead of a timer armed and cleared per call.
 */
export interface DeadlineWatchdog {
  /**
   * Calls `onExpired` once, `milliseconds` from now, unless cancelled first. A deadline past
   * the longest Node timer is waited for in steps; an infinite one never expires.
   */
  watch(milliseconds: number, onExpired: () => void): WatchedDeadline;
  /** Forgets a deadline; harmless if it already expired or was cancelled. */
  cancel(deadline: WatchedDeadline): void;
  /** Deadlines being watched now. */
  readonly size: number;
}

/** A watched deadline, linked into the watchdog's list while it is watched. */
class Deadline implements WatchedDeadline {
  previous: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  linked = true;

  constructor(
    /** The list this deadline belongs to: one per watchdog. */
    readonly owner: object,
    readonly at: number,
    readonly onExpired: () => void,
  ) {}
}

/**
 * Creates a {@link DeadlineWatchdog}. Its timer is armed for the earliest deadline it knows
 * of; when it fires, every passed deadline expires and the timer is armed again for the next
 * one. Deadlines of calls that already finished are forgotten at cancel time, so the timer
 * mostly fires when something is actually late. The timer does not keep the process alive,
 * and is never armed for longer than {@link MAX_TIMER_MS}: a longer delay would make Node
 * fire it after 1 ms, and the watchdog re-arm it every millisecond until the deadline.
 *
 * Deadlines are kept in a linked list through themselves: watching and cancelling, once per
 * call, allocate nothing more than the deadline (a Set churned at that rate reallocates its
 * table over and over).
 */
export function createDeadlineWatchdog(): DeadlineWatchdog {
  const owner = {};
  let first: Deadline | undefined;
  let last: Deadline | undefined;
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let armedAt = Number.POSITIVE_INFINITY;

  function unlink(deadline: Deadline): void {
    deadline.linked = false;
    const { previous, next } = deadline;
    if (previous === undefined) first = next;
    else previous.next = next;
    if (next === undefined) last = previous;
    else next.previous = previous;
    deadline.previous = undefined;
    deadline.next = undefined;
    size--;
  }

  function arm(at: number): void {
    if (timer !== undefined) clearTimeout(timer);
    armedAt = at;
    timer = setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(0, at - performance.now())));
    timer.unref();
  }

  function fire(): void {
    timer = undefined;
    armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    const expired: Deadline[] = [];
    for (let deadline = first; deadline !== undefined; deadline = deadline.next) {
      if (deadline.at <= now) expired.push(deadline);
      else if (deadline.at < next) next = deadline.at;
    }
    for (const deadline of expired) unlink(deadline);
    if (next !== Number.POSITIVE_INFINITY) arm(next);
    for (const deadline of expired) deadline.onExpired();
  }

  return {
    watch(milliseconds, onExpired) {
      const deadline = new Deadline(owner, performance.now() + milliseconds, onExpired);
      deadline.previous = last;
      if (last === undefined) first = deadline;
      else last.next = deadline;
      last = deadline;
      size++;
      if (deadline.at < armedAt) arm(deadline.at);
      return deadline;
    },
    cancel(deadline) {
      // The timer stays armed even when nothing is left: re-arming it for the next call would
      // cost more than letting it fire once for nothing.
      if (deadline instanceof Deadline && deadline.owner === owner && deadline.linked) unlink(deadline);
    },
    get size() {
      return size;
    },
  };
}
