/** What {@link WatchQueue.take} resolves with once the queue has ended without an error. */
export const QUEUE_DONE: unique symbol = Symbol("queue done");

/** The bounds of a {@link WatchQueue}. */
export interface WatchQueueLimits {
  /** Most messages waiting. */
  readonly messages: number;
  /** Most bytes waiting (as pushed with each message); one message alone always fits. */
  readonly bytes: number;
}

/**
 * The queue between a store's synchronous watch callbacks and one stream's writer. The store
 * pushes as changes commit; the writer takes one message at a time and waits for the network
 * before taking the next, so a consumer that does not read lets the queue grow. Past its
 * message or byte limit the push is refused and the stream's owner cuts the consumer off.
 */
export interface WatchQueue<T> {
  /** Messages waiting. */
  readonly size: number;
  /** Bytes waiting: the sum of the sizes the waiting messages were pushed with. */
  readonly bytes: number;
  /** Whether the queue ended (after {@link finish} or {@link abort}). */
  readonly ended: boolean;
  /**
   * Adds a message of `bytes` bytes. While bounded, a push that would exceed either limit is
   * refused, except into an empty queue: a message larger than the byte limit is not refused
   * when nothing else waits.
   * @returns false if the message was refused (full) or the queue has ended.
   */
  push(item: T, bytes?: number): boolean;
  /**
   * Adds `bytes` to what the last waiting message counts, as when another watch joins a
   * message already queued; nothing if none waits (its writer has taken it). Never refused:
   * the next push sees the bytes.
   */
  charge(bytes: number): void;
  /**
   * Runs `action` with the limits lifted: for a replay, which the history already bounds. Its
   * bytes still count, so the queue may be over its byte limit afterwards.
   */
  unbounded<R>(action: () => R): R;
  /** Resolves once the bytes waiting are within the byte limit, or the queue has ended. */
  withinBytes(): Promise<void>;
  /** Ends after the queued messages are taken; then `take` rejects with `error`, or resolves done. */
  finish(error?: unknown): void;
  /** Ends at once, dropping the queued messages; `take` rejects with `error`, or resolves done. */
  abort(error?: unknown): void;
  /** The next message, waiting for one if none is queued. */
  take(): Promise<T | typeof QUEUE_DONE>;
}

/** Creates a {@link WatchQueue} bounded by `limits`. */
export function createWatchQueue<T>(limits: WatchQueueLimits): WatchQueue<T> {
  let items: T[] = [];
  let sizes: number[] = [];
  let head = 0;
  let queuedBytes = 0;
  let bounded = true;
  let ended = false;
  let finalError: unknown;
  let waiter: { resolve(item: T | typeof QUEUE_DONE): void; reject(error: unknown): void } | undefined;
  let roomWaiters: (() => void)[] = [];

  function settleEnd(): Promise<typeof QUEUE_DONE> {
    return finalError === undefined ? Promise.resolve(QUEUE_DONE) : Promise.reject(finalError);
  }

  function wakeWithEnd(): void {
    wakeRoomWaiters();
    if (waiter === undefined) return;
    const current = waiter;
    waiter = undefined;
    if (finalError === undefined) current.resolve(QUEUE_DONE);
    else current.reject(finalError);
  }

  function wakeRoomWaiters(): void {
    if (roomWaiters.length === 0) return;
    const waking = roomWaiters;
    roomWaiters = [];
    for (const wake of waking) wake();
  }

  return {
    get size() {
      return items.length - head;
    },
    get bytes() {
      return queuedBytes;
    },
    get ended() {
      return ended;
    },
    push(item, bytes = 0) {
      if (ended) return false;
      if (waiter !== undefined) {
        const current = waiter;
        waiter = undefined;
        current.resolve(item);
        return true;
      }
      const waiting = items.length - head;
      if (bounded && waiting > 0 && (waiting >= limits.messages || queuedBytes + bytes > limits.bytes)) {
        return false;
      }
      items.push(item);
      sizes.push(bytes);
      queuedBytes += bytes;
      return true;
    },
    charge(bytes) {
      const last = sizes.length - 1;
      if (last < head) return;
      sizes[last] = (sizes[last] as number) + bytes;
      queuedBytes += bytes;
    },
    unbounded(action) {
      const previous = bounded;
      bounded = false;
      try {
        return action();
      } finally {
        bounded = previous;
      }
    },
    withinBytes() {
      if (ended || queuedBytes <= limits.bytes) return Promise.resolve();
      return new Promise((resolve) => roomWaiters.push(resolve));
    },
    finish(error) {
      if (ended) return;
      ended = true;
      finalError = error;
      wakeRoomWaiters();
      if (items.length - head === 0) wakeWithEnd();
    },
    abort(error) {
      if (ended && items.length - head === 0) return;
      ended = true;
      finalError ??= error;
      items = [];
      sizes = [];
      head = 0;
      queuedBytes = 0;
      wakeWithEnd();
    },
    take() {
      if (head < items.length) {
        const item = items[head] as T;
        queuedBytes -= sizes[head] as number;
        items[head] = undefined as T;
        head += 1;
        if (head === items.length) {
          items = [];
          sizes = [];
          head = 0;
        } else if (head >= 1024 && head * 2 >= items.length) {
          items = items.slice(head);
          sizes = sizes.slice(head);
          head = 0;
        }
        if (queuedBytes <= limits.bytes) wakeRoomWaiters();
        return Promise.resolve(item);
      }
      if (ended) return settleEnd();
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
  };
}
