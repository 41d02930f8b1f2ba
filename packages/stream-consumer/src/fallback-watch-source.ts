import { Code, ConnectError } from "@connectrpc/connect";
import { isStateError } from "@statebridge/state-provider";
import type { WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";

/**
 * A {@link WatchSource} that uses `preferred` (the multiplexed stream) until the server says
 * it does not implement it, then `fallback` (one stream per watch) for good. A server that
 * predates `WatchStream`, or a proxy that only routes server streams, still serves watches.
 */
export function createFallbackWatchSource(preferred: WatchSource, fallback: WatchSource): WatchSource {
  let usePreferred = true;

  async function* open(request: WatchRequest, signal: AbortSignal): AsyncGenerator<WatchMessage> {
    if (usePreferred) {
      let heard = false;
      try {
        for await (const message of preferred.open(request, signal)) {
          heard = true;
          yield message;
        }
        return;
      } catch (error) {
        if (heard || !isUnimplemented(error)) throw error;
        usePreferred = false;
        preferred.close();
      }
    }
    yield* fallback.open(request, signal);
  }

  return {
    open,
    close() {
      preferred.close();
      fallback.close();
    },
  };
}

function isUnimplemented(error: unknown): boolean {
  return !isStateError(error) && ConnectError.from(error).code === Code.Unimplemented;
}
