import { Code, ConnectError } from "@connectrpc/connect";
import { isStateError } from "@statebridge/state-provider";
import {
  listenTo,
  type WatchListener,
  type WatchMessage,
  type WatchRequest,
  type WatchSource,
} from "./watch-source.js";

/**
 * A {@link WatchSource} that uses `preferred` (the multiplexed stream) until the server says
 * it does not implement it, then `fallback` (one stream per watch) for good. A server that
 * predates `WatchStream`, or a proxy that only routes server streams, still serves watches.
 */
export function createFallbackWatchSource(preferred: WatchSource, fallback: WatchSource): WatchSource {
  let usePreferred = true;

  /**
   * Not an async generator delegating to the sources: that would cost three more promise hops
   * per message, on the path every event of every watch takes. Until its first message, a
   * watch on the preferred source may still move to the fallback.
   */
  function open(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage> {
    return {
      [Symbol.asyncIterator]() {
        let current: AsyncIterator<WatchMessage> | undefined;
        let onPreferred = false;
        let heard = false;

        function openFallback(): Promise<IteratorResult<WatchMessage>> {
          onPreferred = false;
          try {
            current = fallback.open(request, signal)[Symbol.asyncIterator]();
            return current.next();
          } catch (error) {
            return Promise.reject(error);
          }
        }

        function failed(error: unknown): Promise<IteratorResult<WatchMessage>> {
          if (!onPreferred || heard || !isUnimplemented(error)) return Promise.reject(error);
          usePreferred = false;
          preferred.close();
          return openFallback();
        }

        return {
          next(): Promise<IteratorResult<WatchMessage>> {
            if (current === undefined) {
              if (!usePreferred) return openFallback();
              onPreferred = true;
            }
            let pending: Promise<IteratorResult<WatchMessage>>;
            try {
              current ??= preferred.open(request, signal)[Symbol.asyncIterator]();
              pending = current.next();
            } catch (error) {
              return failed(error);
            }
            if (!onPreferred || heard) return pending;
            return pending.then((result) => {
              if (result.done !== true) heard = true;
              return result;
            }, failed);
          },
          return(): Promise<IteratorResult<WatchMessage>> {
            return current?.return?.() ?? Promise.resolve({ done: true, value: undefined });
          },
        };
      },
    };
  }

  /** {@link open} in push mode, for sources that have it (see `WatchSource.listen`). */
  function listen(request: WatchRequest, signal: AbortSignal, listener: WatchListener): void {
    if (!usePreferred) {
      listenTo(fallback, request, signal, listener);
      return;
    }
    listenTo(
      preferred,
      request,
      signal,
      new PreferredAttempt(listener, () => {
        usePreferred = false;
        preferred.close();
        listenTo(fallback, request, signal, listener);
      }),
    );
  }

  return {
    open,
    listen,
    close() {
      preferred.close();
      fallback.close();
    },
  };
}

/**
 * An attempt on the preferred source: passes everything on to `listener`, except an
 * `unimplemented` end before the first message, which `useFallback` takes instead. A class:
 * it sits on the path of every message of every watch.
 */
class PreferredAttempt implements WatchListener {
  private heard = false;

  constructor(
    private readonly listener: WatchListener,
    private readonly useFallback: () => void,
  ) {}

  message(message: WatchMessage): PromiseLike<void> | undefined {
    this.heard = true;
    return this.listener.message(message);
  }

  end(error: unknown): void {
    if (error === undefined || this.heard || !isUnimplemented(error)) this.listener.end(error);
    else this.useFallback();
  }
}

function isUnimplemented(error: unknown): boolean {
  return !isStateError(error) && ConnectError.from(error).code === Code.Unimplemented;
}
