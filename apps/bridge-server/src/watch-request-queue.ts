import type { ConnectError } from "@connectrpc/connect";

/**
 * Request messages of one call decoded and not yet read by its method at which the HTTP/2
 * stream stops being read until the method has read them all: flow control then holds the
 * client back, as connect's pull-based reading does.
 */
export const PAUSE_AT_REQUESTS = 256;
/** Bytes of encoded request messages queued at which reading pauses, as {@link PAUSE_AT_REQUESTS}. */
export const PAUSE_AT_REQUEST_BYTES = 256 * 1024;
/**
 * Request messages queued past which a call ends with `resource_exhausted`: a backstop, since
 * reading pauses long before (one HTTP/2 DATA frame holds at most 3,276 envelopes).
 */
export const MAX_QUEUED_REQUESTS = 4_096;
/** Bytes of encoded request messages queued, as {@link MAX_QUEUED_REQUESTS}; one message alone may exceed it. */
export const MAX_QUEUED_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * The decoded request messages of one call, as the async iterable its method reads, bounded
 * by {@link MAX_QUEUED_REQUESTS} and {@link MAX_QUEUED_REQUEST_BYTES}.
 */
export class RequestQueue implements AsyncIterable<unknown> {
  private items: unknown[] = [];
  private sizes: number[] = [];
  private head = 0;
  private queuedBytes = 0;
  private ended = false;
  private failure: ConnectError | undefined;
  private waiter: (() => void) | undefined;

  constructor(private readonly owner: { requestsRead(): void }) {}

  /** Messages queued. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Encoded bytes of the messages queued. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Queues a message of `size` encoded bytes. @returns false if that would pass a bound. */
  push(message: unknown, size: number): boolean {
    if (this.ended) return true;
    const queued = this.items.length - this.head;
    if (queued >= MAX_QUEUED_REQUESTS || (queued > 0 && this.queuedBytes + size > MAX_QUEUED_REQUEST_BYTES))
      return false;
    this.items.push(message);
    this.sizes.push(size);
    this.queuedBytes += size;
    this.wake();
    return true;
  }

  /** Ends the requests; those queued are still read unless `error` is given, which the reader gets instead. */
  end(error?: ConnectError): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (error !== undefined) this.clear();
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    for (;;) {
      if (this.head < this.items.length) {
        const item = this.items[this.head];
        this.items[this.head] = undefined;
        this.queuedBytes -= this.sizes[this.head] as number;
        this.head++;
        if (this.head === this.items.length) {
          this.clear();
          this.owner.requestsRead();
        }
        yield item;
        continue;
      }
      if (this.ended) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** Ends the requests and drops those queued: nobody reads them any more. */
  discard(): void {
    this.end();
    this.clear();
  }

  private clear(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
