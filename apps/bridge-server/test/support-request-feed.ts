/** The requests of a client stream, sent as the test pushes them. */
export interface RequestFeed<Request> {
  /** What the call reads: each request sent, in order; done once ended and drained. */
  readonly requests: AsyncGenerator<Request>;
  /** Queues one request and wakes the reader. */
  send(request: Request): void;
  /** Ends the request stream once what was sent is read (the client half-closes). */
  end(): void;
}

/** A {@link RequestFeed}: streaming requests that the test sends one by one. */
export function requestFeed<Request>(): RequestFeed<Request> {
  const pending: Request[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  async function* requests(): AsyncGenerator<Request> {
    for (;;) {
      while (pending.length > 0) yield pending.shift() as Request;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }
  return {
    requests: requests(),
    send(request) {
      pending.push(request);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}
