/** What reads a {@link MessageChannel} through {@link MessageChannel.consume}. */
export interface MessageReader<T> {
  /** Handles one message; a promise it returns holds the next one back until it settles. */
  message(message: T): PromiseLike<void> | undefined;
}

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
   * Reads the channel with a reader instead of an iterator (one or the other, once). Each
   * message goes to `reader.message` in order, straight from {@link push} when nothing waits and the
   * handler is not busy: no promise, no microtask. While a promise it returned is pending, what
   * is pushed waits (and counts in `size`). `onEnd` is told once, never while the handler is
   * busy: `undefined` after {@link end} and every waiting message, the error of {@link fail},
   * or what the handler threw or rejected with (the channel then ends).
   */
  consume(reader: MessageReader<T>, onEnd: (error: unknown) => void): void;
}

/** Creates an empty {@link MessageChannel}. */
export function createMessageChannel<T>(): MessageChannel<T> {
  return new Channel<T>();
}

type Waiter<T> = { resolve(result: IteratorResult<T>): void; reject(error: unknown): void };

/**
 * A class, not a closure: a message for 10,000 watches touches 10,000 channels, and one object
 * each (fields inline, methods shared) is what a loop over them can afford.
 */
class Channel<T> implements MessageChannel<T> {
  ended = false;
  private items: T[] = [];
  private head = 0;
  private failure: { readonly error: unknown } | undefined = undefined;
  // The reader's pending `next()`, settled straight from push/end/fail: no async function
  // around it, so a message reaches the reader in one promise hop, not three.
  private waiter: Waiter<T> | undefined = undefined;
  // The reader of `consume`, while it reads; `busy` while it runs or its promise is pending.
  private handler: MessageReader<T> | undefined = undefined;
  private onEnd: ((error: unknown) => void) | undefined = undefined;
  private busy = false;

  get size(): number {
    return this.items.length - this.head;
  }

  push(message: T): void {
    if (this.ended) return;
    if (this.handler !== undefined) {
      if (this.busy || this.head < this.items.length) this.items.push(message);
      else {
        this.handle(message);
        // What the handler did meanwhile (a push, an end) is taken up now.
        this.drain();
      }
      return;
    }
    const reader = this.takeWaiter();
    if (reader !== undefined) reader.resolve({ done: false, value: message });
    else this.items.push(message);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.handler !== undefined) this.drain();
    else if (this.items.length === this.head) this.takeWaiter()?.resolve({ done: true, value: undefined });
  }

  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.stop(error);
    if (this.handler !== undefined) this.drain();
    else this.takeWaiter()?.reject(error);
  }

  consume(reader: MessageReader<T>, onEnd: (error: unknown) => void): void {
    this.handler = reader;
    this.onEnd = onEnd;
    this.drain();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.failure !== undefined) return Promise.reject(this.failure.error);
        if (this.head < this.items.length) return Promise.resolve({ done: false, value: this.shift() });
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        this.ended = true;
        this.items = [];
        this.head = 0;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  private takeWaiter(): Waiter<T> | undefined {
    const current = this.waiter;
    this.waiter = undefined;
    return current;
  }

  private shift(): T {
    const value = this.items[this.head] as T;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1_024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Ends the channel with `error` (the first one wins) and drops what waits. */
  private stop(error: unknown): void {
    this.ended = true;
    this.failure ??= { error };
    this.items = [];
    this.head = 0;
  }

  private handle(message: T): void {
    this.busy = true;
    let result: PromiseLike<void> | undefined;
    try {
      result = (this.handler as MessageReader<T>).message(message);
    } catch (error) {
      this.busy = false;
      this.stop(error);
      return;
    }
    if (result === undefined) {
      this.busy = false;
      return;
    }
    result.then(
      () => {
        this.busy = false;
        this.drain();
      },
      (error: unknown) => {
        this.busy = false;
        this.stop(error);
        this.drain();
      },
    );
  }

  /** Hands waiting messages to the handler until it is busy; tells the end once it came. */
  private drain(): void {
    while (!this.busy && this.handler !== undefined && this.head < this.items.length)
      this.handle(this.shift());
    if (this.busy || this.handler === undefined) return;
    if (this.failure === undefined && !(this.ended && this.head >= this.items.length)) return;
    const tell = this.onEnd as (error: unknown) => void;
    this.handler = undefined;
    this.onEnd = undefined;
    tell(this.failure?.error);
  }
}
