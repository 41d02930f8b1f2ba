/**
 * Handles one message of a {@link MessageChannel} read by {@link MessageChannel.consume}: a
 * promise it returns holds the next message back until it settles.
 */
export type MessageHandler<T> = (message: T) => PromiseLike<void> | undefined;

/**
 * A one-reader queue: the router of a multiplexed stream pushes each watch's messages, and the
 * watch reads them at its own pace, as an async iterable or through a handler.
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
  /**
   * Reads the channel with a handler instead of an iterator (one or the other, once). Each
   * message goes to `handler` in order, straight from {@link push} when nothing waits and the
   * handler is not busy: no promise, no microtask. While a promise it returned is pending, what
   * is pushed waits (and counts in `size`). `onEnd` is told once, never while the handler is
   * busy: `undefined` after {@link end} and every waiting message, the error of {@link fail},
   * or what the handler threw or rejected with (the channel then ends).
   */
  consume(handler: MessageHandler<T>, onEnd: (error: unknown) => void): void;
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
  // The handler of `consume`, while it reads; `busy` while it runs or its promise is pending.
  let handler: MessageHandler<T> | undefined;
  let onEnd: ((error: unknown) => void) | undefined;
  let busy = false;

  function takeWaiter():
    | { resolve(result: IteratorResult<T>): void; reject(error: unknown): void }
    | undefined {
    const current = waiter;
    waiter = undefined;
    return current;
  }

  function shift(): T {
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
    return value;
  }

  /** Ends the channel with `error` (the first one wins) and drops what waits. */
  function stop(error: unknown): void {
    ended = true;
    failure ??= { error };
    items = [];
    head = 0;
  }

  function handle(message: T): void {
    busy = true;
    let result: PromiseLike<void> | undefined;
    try {
      result = (handler as MessageHandler<T>)(message);
    } catch (error) {
      busy = false;
      stop(error);
      return;
    }
    if (result === undefined) {
      busy = false;
      return;
    }
    result.then(
      () => {
        busy = false;
        drain();
      },
      (error: unknown) => {
        busy = false;
        stop(error);
        drain();
      },
    );
  }

  /** Hands waiting messages to the handler until it is busy; tells the end once it came. */
  function drain(): void {
    while (!busy && handler !== undefined && head < items.length) handle(shift());
    if (busy || handler === undefined) return;
    if (failure === undefined && !(ended && head >= items.length)) return;
    const tell = onEnd as (error: unknown) => void;
    handler = undefined;
    onEnd = undefined;
    tell(failure?.error);
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
      if (handler !== undefined) {
        if (busy || head < items.length) items.push(message);
        else {
          handle(message);
          // What the handler did meanwhile (a push, an end) is taken up now.
          drain();
        }
        return;
      }
      const reader = takeWaiter();
      if (reader !== undefined) reader.resolve({ done: false, value: message });
      else items.push(message);
    },
    end() {
      if (ended) return;
      ended = true;
      if (handler !== undefined) drain();
      else if (items.length === head) takeWaiter()?.resolve({ done: true, value: undefined });
    },
    fail(error) {
      if (failure !== undefined) return;
      stop(error);
      if (handler !== undefined) drain();
      else takeWaiter()?.reject(error);
    },
    consume(messageHandler, onEndOfChannel) {
      handler = messageHandler;
      onEnd = onEndOfChannel;
      drain();
    },
    [Symbol.asyncIterator]() {
      return {
        next: (): Promise<IteratorResult<T>> => {
          if (failure !== undefined) return Promise.reject(failure.error);
          if (head < items.length) return Promise.resolve({ done: false, value: shift() });
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
