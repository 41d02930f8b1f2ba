/**
 * A one-reader queue that turns pushes into an async iterable: the router of a multiplexed
 * stream pushes each watch's messages, and the watch reads them at its own pace.
 */
export interface MessageChannel<T> extends AsyncIterable<T> {
  /** Messages waiting to be read. */
  readonly size: number;
  /** Whether the channel ended (after {@link end} or {@link fail}). */
  readonly ended: boolean;
  /** Adds a message; ignored once the channel ended. */
  push(message: T): void;
  /** Ends after the waiting messages were read. */
  end(): void;
  /** Ends at once: waiting messages are dropped and the reader gets `error`. */
  fail(error: unknown): void;
}

/** Creates an empty {@link MessageChannel}. */
export function createMessageChannel<T>(): MessageChannel<T> {
  let items: T[] = [];
  let head = 0;
  let ended = false;
  let failure: { readonly error: unknown } | undefined;
  // The reader's pending `next()`, settled straight from push/end/fail: no async function
  // around it, so a message reaches the reader in one promise hop, not three.
  let waiter: { resolve(result: IteratorResult<T>): void; reject(error: unknown): void } | undefined;

  function take(): { resolve(result: IteratorResult<T>): void; reject(error: unknown): void } | undefined {
    const current = waiter;
    waiter = undefined;
    return current;
  }

  return {
    get size() {
      return items.length - head;
    },
    get ended() {
      return ended;
    },
    push(message) {
      if (ended) return;
      const reader = take();
      if (reader !== undefined) reader.resolve({ done: false, value: message });
      else items.push(message);
    },
    end() {
      if (ended) return;
      ended = true;
      if (items.length === head) take()?.resolve({ done: true, value: undefined });
    },
    fail(error) {
      if (failure !== undefined) return;
      ended = true;
      failure = { error };
      items = [];
      head = 0;
      take()?.reject(error);
    },
    [Symbol.asyncIterator]() {
      return {
        next: (): Promise<IteratorResult<T>> => {
          if (failure !== undefined) return Promise.reject(failure.error);
          if (head < items.length) {
            const value = items[head] as T;
            items[head] = undefined as T;
            head++;
            if (head === items.length) {
              items = [];
              head = 0;
            } else if (head >= 1_024 && head * 2 >= items.length) {
              items = items.slice(head);
              head = 0;
            }
            return Promise.resolve({ done: false, value });
          }
          if (ended) return Promise.resolve({ done: true, value: undefined });
          return new Promise<IteratorResult<T>>((resolve, reject) => {
            waiter = { resolve, reject };
          });
        },
        return: (): Promise<IteratorResult<T>> => {
          ended = true;
          items = [];
          head = 0;
          return Promise.resolve({ done: true, value: undefined });
        },
      };
    },
  };
}
