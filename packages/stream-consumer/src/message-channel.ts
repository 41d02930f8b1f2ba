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
  let waiter: ((result: IteratorResult<T> | { readonly error: unknown }) => void) | undefined;

  function wake(result: IteratorResult<T> | { readonly error: unknown }): boolean {
    if (waiter === undefined) return false;
    const current = waiter;
    waiter = undefined;
    current(result);
    return true;
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
      if (!wake({ done: false, value: message })) items.push(message);
    },
    end() {
      if (ended) return;
      ended = true;
      if (items.length === head) wake({ done: true, value: undefined });
    },
    fail(error) {
      if (failure !== undefined) return;
      ended = true;
      failure = { error };
      items = [];
      head = 0;
      wake(failure);
    },
    [Symbol.asyncIterator]() {
      return {
        next: async (): Promise<IteratorResult<T>> => {
          if (failure !== undefined) throw failure.error;
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
            return { done: false, value };
          }
          if (ended) return { done: true, value: undefined };
          const result = await new Promise<IteratorResult<T> | { readonly error: unknown }>((resolve) => {
            waiter = resolve;
          });
          if ("error" in result) throw result.error;
          return result;
        },
        return: async (): Promise<IteratorResult<T>> => {
          ended = true;
          items = [];
          head = 0;
          return { done: true, value: undefined };
        },
      };
    },
  };
}
