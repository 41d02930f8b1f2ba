import type { Client, Transport } from "@connectrpc/connect";
import type { BridgeService } from "@statebridge/proto";
import {
  StateError,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
  type WatchOptions,
} from "@statebridge/state-provider";

/** What the watch side of a BridgedState gets from the provider. */
export interface WatchContext {
  /** The session being watched. */
  readonly sessionId: string;
  /** The generated client, on the provider's transport. */
  readonly client: Client<typeof BridgeService>;
  /** The provider's transport (one HTTP/2 connection, with keepalive pings). */
  readonly transport: Transport;
  /** The provider's error seam: ConnectError → StateError. */
  readonly translateError: (error: unknown) => StateError;
}

/** The watches of one BridgedState. */
export interface BridgedWatches {
  /** Whether this build delivers changes; it becomes the provider's `capabilities.watch`. */
  readonly supported: boolean;
  /** Opens a watch over `WatchVariables`. */
  watch(identifiers: readonly string[], watcher: Watcher, options: WatchOptions): Promise<WatchHandle>;
  /** The live watches. */
  list(): WatchInfo[];
  /** Closes every watch; called once by the provider's `close()`. */
  close(): Promise<void>;
}

/**
 * Creates the watch side of a BridgedState. Watching is delivered by the stream consumer
 * (`@statebridge/stream-consumer`); until it is attached here, `supported` is false (so the
 * provider's capabilities stay truthful) and `watch()` fails with `unavailable`.
 */
export function createBridgedWatches(context: WatchContext): BridgedWatches {
  return {
    supported: false,
    async watch() {
      throw new StateError(
        "unavailable",
        `watching session ${context.sessionId} is not supported by this version of @statebridge/state-bridged`,
      );
    },
    list() {
      return [];
    },
    async close() {},
  };
}
