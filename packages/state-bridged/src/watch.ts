import type { Client, Transport } from "@connectrpc/connect";
import type { BridgeService } from "@statebridge/proto";
import type { StateError, Watcher, WatchHandle, WatchInfo } from "@statebridge/state-provider";
import {
  createStreamConsumer,
  type GrpcConnection,
  type ReconnectOptions,
  type StreamWatchOptions,
} from "@statebridge/stream-consumer";

/** What the watch side of a BridgedState gets from the provider. */
export interface WatchContext {
  /** The session being watched. */
  readonly sessionId: string;
  /** The session's incarnation when a watch opens (see `StreamConsumerOptions.incarnation`). */
  readonly incarnation?: () => string | undefined;
  /** The generated client, on the provider's transport. */
  readonly client: Client<typeof BridgeService>;
  /** The provider's transport (one HTTP/2 connection, with keepalive pings). */
  readonly transport: Transport;
  /**
   * The provider's own HTTP/2 connection, when it speaks binary gRPC: watch streams are then
   * opened on it directly. Absent with a transport the user gave, whose streams go through
   * connect.
   */
  readonly connection?: GrpcConnection;
  /**
   * Not used: watch streams translate errors with `stateErrorFromConnectError` of
   * `@statebridge/stream-consumer`, which reads the wire the same way as the provider's seam.
   */
  readonly translateError?: (error: unknown) => StateError;
  /** The server's address, named in `unavailable` errors. */
  readonly target?: string;
  /** How watch streams are kept alive and reopened. */
  readonly options?: BridgedWatchOptions;
}

/** How the watches of a BridgedState are carried, kept alive and reopened. */
export interface BridgedWatchOptions {
  /**
   * `"auto"` (default): every watch of the provider over one multiplexed `WatchStream`, or
   * one `WatchVariables` stream per watch if the server lacks `WatchStream`.
   */
  readonly streams?: "auto" | "multiplexed" | "per-watch";
  /**
   * Heartbeat interval asked of the server, in ms, on both kinds of stream; a longer one the
   * server announces is followed. Default 5,000.
   */
  readonly heartbeatIntervalMs?: number;
  /** Heartbeat intervals of silence after which a stream is reopened. Default 3. */
  readonly missedHeartbeats?: number;
  /**
   * Reconnect backoff: 1 s base, 30 s cap, give up after 10 failures in a row by default. A
   * watch's `onStatus` is told each reconnect and the give-up.
   */
  readonly reconnect?: ReconnectOptions;
}

/** The watches of one BridgedState. */
export interface BridgedWatches {
  /** Whether this build delivers changes; it becomes the provider's `capabilities.watch`. */
  readonly supported: boolean;
  /** Opens a watch; `options.onStatus` is told its connection state. */
  watch(identifiers: readonly string[], watcher: Watcher, options: StreamWatchOptions): Promise<WatchHandle>;
  /** The live watches. */
  list(): WatchInfo[];
  /** Closes every watch; called once by the provider's `close()`. */
  close(): Promise<void>;
}

/**
 * Creates the watch side of a BridgedState on `@statebridge/stream-consumer`: each watcher is
 * called one event at a time, in revision order, exactly once across reconnects; a broken
 * stream is reopened from the last revision seen; an expired session ends the watch with
 * `session_expired` (through `onError` and the handle's `done`).
 */
export function createBridgedWatches(context: WatchContext): BridgedWatches {
  const consumer = createStreamConsumer({
    client: context.client,
    sessionId: context.sessionId,
    ...(context.incarnation === undefined ? {} : { incarnation: context.incarnation }),
    ...(context.target === undefined ? {} : { target: context.target }),
    ...(context.connection === undefined ? {} : { connection: context.connection }),
    ...context.options,
  });
  return {
    supported: true,
    watch: (identifiers, watcher, options) => consumer.watch(identifiers, watcher, options),
    list: () => consumer.watchers(),
    close: () => consumer.close(),
  };
}
