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
    let heard = false;
    listenTo(preferred, request, signal, {
      message(message) {
        heard = true;
        return listener.message(message);
      },
      end(error) {
        if (error === undefined || heard || !isUnimplemented(error)) {
          listener.end(error);
          return;
        }
        usePreferred = false;
        preferred.close();
        listenTo(fallback, request, signal, listener);
      },
    });
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

function isUnimplemented(error: unknown): boolean {
  return !isStateError(error) && ConnectError.from(error).code === Code.Unimplemented;
}
