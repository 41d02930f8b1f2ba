/** What {@link WatchQueue.take} resolves with once the queue has ended without an error. */
export const QUEUE_DONE: unique symbol = Symbol("queue done");

/**
 * The queue between a store's synchronous watch callbacks and one stream's writer. The store
 * pushes as changes commit; the writer takes one message at a time and waits for the network
 * before taking the next, so a consumer that does not read lets the queue grow. Past `limit`
 * messages the push is refused and the stream's owner cuts the consumer off.
 */
export interface WatchQueue<T> {
  /** Messages waiting. */
  readonly size: number;
  /** Whether the queue ended (after {@link finish} or {@link abort}). */
  readonly ended: boolean;
  /**
   * Adds a message. While bounded, a push that would exceed the limit is refused.
   * @returns false if the message was refused (full) or the queue has ended.
   */
  push(item: T): boolean;
  /** Runs `action` with the limit lifted: for a replay, which the history already bounds. */
  unbounded<R>(action: () => R): R;
  /** Ends after the queued messages are taken; then `take` rejects with `error`, or resolves done. */
  finish(error?: unknown): void;
  /** Ends at once, dropping the queued messages; `take` rejects with `error`, or resolves done. */
  abort(error?: unknown): void;
  /** The next message, waiting for one if none is queued. */
  take(): Promise<T | typeof QUEUE_DONE>;
}

/** Creates a {@link WatchQueue} that holds at most `limit` messages. */
export function createWatchQueue<T>(limit: number): WatchQueue<T> {
  let items: T[] = [];
  let head = 0;
  let bounded = true;
  let ended = false;
  let finalError: unknown;
  let waiter: { resolve(item: T | typeof QUEUE_DONE): void; reject(error: unknown): void } | undefined;

  function settleEnd(): Promise<typeof QUEUE_DONE> {
    return finalError === undefined ? Promise.resolve(QUEUE_DONE) : Promise.reject(finalError);
  }

  function wakeWithEnd(): void {
    if (waiter === undefined) return;
    const current = waiter;
    waiter = undefined;
    if (finalError === undefined) current.resolve(QUEUE_DONE);
    else current.reject(finalError);
  }

  return {
    get size() {
      return items.length - head;
    },
    get ended() {
      return ended;
    },
    push(item) {
      if (ended) return false;
      if (waiter !== undefined) {
        const current = waiter;
        waiter = undefined;
        current.resolve(item);
        return true;
      }
      if (bounded && items.length - head >= limit) return false;
      items.push(item);
      return true;
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
    finish(error) {
      if (ended) return;
      ended = true;
      finalError = error;
      if (items.length - head === 0) wakeWithEnd();
    },
    abort(error) {
      if (ended && items.length - head === 0) return;
      ended = true;
      finalError ??= error;
      items = [];
      head = 0;
      wakeWithEnd();
    },
    take() {
      if (head < items.length) {
        const item = items[head] as T;
        items[head] = undefined as T;
        head += 1;
        if (head === items.length) {
          items = [];
          head = 0;
        } else if (head >= 1024 && head * 2 >= items.length) {
          items = items.slice(head);
          head = 0;
        }
        return Promise.resolve(item);
      }
      if (ended) return settleEnd();
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
  };
}
