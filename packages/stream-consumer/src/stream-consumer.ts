import type { Client } from "@connectrpc/connect";
import type { BridgeService } from "@statebridge/proto";
import { StateError, type WatchEvent, type Watcher } from "@statebridge/state-provider";
import { type ReconnectOptions, resolveReconnectOptions } from "./backoff.js";
import { createFallbackWatchSource } from "./fallback-watch-source.js";
import type { GrpcConnection } from "./grpc-stream.js";
import { createGrpcWatchStreamOpener, createGrpcWatchVariablesSource } from "./grpc-watch-sources.js";
import { type StreamWatchHandle, type StreamWatchInfo, startStreamWatch } from "./stream-watch.js";
import type { WatchSource } from "./watch-source.js";
import type { StreamWatchOptions } from "./watch-status.js";
import { createWatchStreamSource } from "./watch-stream-source.js";
import { createWatchVariablesSource } from "./watch-variables-source.js";

/** Options of {@link createStreamConsumer}. */
export interface StreamConsumerOptions {
  /**
   * A Connect client of `statebridge.v1.BridgeService`. Its transport should send HTTP/2
   * keepalive PINGs (`pingIntervalMs`), which connect-node leaves off by default. Not needed
   * with `connection` or `source`.
   */
  readonly client?: Client<typeof BridgeService>;
  /** The session every watch of this consumer watches. */
  readonly sessionId: string;
  /** The server's address, named in `unavailable` errors. */
  readonly target?: string;
  /**
   * The session's incarnation as the caller knows it (`InitializeSession` tells it), or a
   * function that tells it when a watch opens. Every watch names it, so that a session
   * recreated under the same id (after a server restart, say) ends the watch with
   * `session_expired` instead of being followed as if it were the old one. Without it, a watch
   * learns the incarnation from the server's first message and names it when it resumes.
   */
  readonly incarnation?: string | (() => string | undefined);
  /** How often the server is asked to send a heartbeat, in milliseconds. Default 5,000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Heartbeat intervals without any message after which a stream is taken for dead and
   * reopened. Default 3.
   */
  readonly missedHeartbeats?: number;
  /**
   * Backoff of reconnects: 1 s base, doubling to a 30 s cap, and a watch gives up (ends with
   * `unavailable`, told to `onStatus` as `gave_up`) after 10 failed reopens in a row, by
   * default.
   */
  readonly reconnect?: ReconnectOptions;
  /**
   * How watches travel:
   * - `"auto"` (default): all over one multiplexed `WatchStream`, or one `WatchVariables`
   *   stream per watch if the server does not implement `WatchStream`;
   * - `"multiplexed"`: only `WatchStream`;
   * - `"per-watch"`: one `WatchVariables` stream per watch.
   *
   * Both kinds of stream ask the server for `heartbeatIntervalMs`; if it announces a longer
   * interval (it clamps what it allows), the silence limit follows its interval.
   */
  readonly streams?: "auto" | "multiplexed" | "per-watch";
  /**
   * On a multiplexed stream, the messages one watch may have waiting while its watcher is
   * busy; past it the watch is resumed from its last revision. Default 10,000.
   */
  readonly maxQueuedMessages?: number;
  /**
   * Told about what a watcher, a filter or an `onError` callback threw. Such errors are
   * counted in `failed` and never stop delivery. Default: ignored.
   */
  readonly onWatcherError?: (error: unknown, event: WatchEvent | undefined) => void;
  /**
   * The HTTP/2 connection under `client`'s transport, when that transport speaks binary gRPC
   * on it: streams are then opened directly on the connection, without connect's per-message
   * pipeline, and report failures as the same `ConnectError`s. `client` still serves as the
   * connection's description for everything else.
   */
  readonly connection?: GrpcConnection;
  /**
   * Where streams come from, replacing what `streams` chooses: for a transport of another
   * kind, or to share one source among consumers. The consumer does not close a source it was
   * given.
   */
  readonly source?: WatchSource;
}

/**
 * The watches of one session over one client: what a BridgedState delegates `watch()`,
 * `listWatchers()` and the watch part of `close()` to.
 */
export interface StreamConsumer {
  /**
   * Opens a watch. Resolves once the server confirmed it (its first message); from then on
   * the watcher sees every change in revision order, exactly once, across reconnects, and
   * `options.onStatus` is told the connection state (see `WatchStatus`).
   * @throws `invalid_value` for an empty or malformed identifier list or `fromRevision`;
   *   `not_found`, `session_expired`, `unauthenticated` or `unavailable` as the server answers;
   *   `closed` after {@link StreamConsumer.close}.
   */
  watch(
    identifiers: Iterable<string>,
    watcher: Watcher,
    options?: StreamWatchOptions,
  ): Promise<StreamWatchHandle>;
  /** The live watches, in the order they were opened. */
  watchers(): StreamWatchInfo[];
  /** Closes every watch (each stream is cancelled on both ends). Idempotent. */
  close(): Promise<void>;
}

/** Creates a {@link StreamConsumer}. */
export function createStreamConsumer(options: StreamConsumerOptions): StreamConsumer {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
  const missedHeartbeats = options.missedHeartbeats ?? 3;
  if (
    !Number.isInteger(heartbeatIntervalMs) ||
    heartbeatIntervalMs < 1 ||
    heartbeatIntervalMs > 0xffff_ffff
  ) {
    throw new RangeError(`heartbeatIntervalMs must be a positive integer, got ${heartbeatIntervalMs}`);
  }
  if (!(missedHeartbeats >= 1)) {
    throw new RangeError(`missedHeartbeats must be at least 1, got ${missedHeartbeats}`);
  }
  const reconnect = resolveReconnectOptions(options.reconnect);
  const source = options.source ?? createSource(options, heartbeatIntervalMs, missedHeartbeats);
  const onWatcherError = options.onWatcherError ?? (() => {});
  const live = new Map<string, StreamWatchHandle>();
  let nextWatchNumber = 1;
  let closed = false;

  return {
    async watch(identifiers, watcher, watchOptions = {}) {
      if (closed) throw new StateError("closed", "the stream consumer is closed");
      const request = {
        sessionId: options.sessionId,
        identifiers: checkIdentifiers(identifiers),
        includeInitial: watchOptions.includeInitial === true,
        ...incarnationOf(options.incarnation),
        ...(watchOptions.fromRevision === undefined
          ? {}
          : { fromRevision: checkRevision(watchOptions.fromRevision) }),
      };
      if (typeof watcher !== "function") {
        throw new StateError("invalid_value", `watcher must be a function, got ${typeof watcher}`);
      }
      const { signal } = watchOptions;
      if (signal?.aborted) throw new StateError("closed", "the watch was aborted before it opened");
      const watchId = `watch_${nextWatchNumber++}`;
      const opening = startStreamWatch({
        watchId,
        source,
        request,
        watcher,
        filter: watchOptions.filter,
        onError: watchOptions.onError,
        onStatus: watchOptions.onStatus,
        reconnect,
        onWatcherError,
        target: options.target,
        onEnd: () => {
          live.delete(watchId);
          signal?.removeEventListener("abort", abort);
        },
      });
      let handle: StreamWatchHandle | undefined;
      const abort = () => void handle?.close();
      signal?.addEventListener("abort", abort, { once: true });
      handle = await opening;
      if (handle.info().state !== "closed") {
        live.set(watchId, handle);
        if (closed || signal?.aborted) await handle.close();
      }
      return handle;
    },

    watchers() {
      return [...live.values()].map((handle) => handle.info());
    },

    async close() {
      if (closed) return;
      closed = true;
      const closing = [...live.values()].map((handle) => handle.close());
      live.clear();
      await Promise.all(closing);
      if (options.source === undefined) source.close();
    },
  };
}

function createSource(
  options: StreamConsumerOptions,
  heartbeatIntervalMs: number,
  missedHeartbeats: number,
): WatchSource {
  const mode = options.streams ?? "auto";
  const { connection, client } = options;
  if (connection === undefined && client === undefined) {
    throw new TypeError("createStreamConsumer needs a client, a connection or a source");
  }
  const perWatch = () =>
    connection === undefined
      ? createWatchVariablesSource(client as Client<typeof BridgeService>, {
          heartbeatIntervalMs,
          missedHeartbeats,
        })
      : createGrpcWatchVariablesSource(connection, { heartbeatIntervalMs, missedHeartbeats });
  if (mode === "per-watch") return perWatch();
  const maxQueuedMessages = options.maxQueuedMessages ?? 10_000;
  if (!Number.isInteger(maxQueuedMessages) || maxQueuedMessages < 1) {
    throw new RangeError(`maxQueuedMessages must be a positive integer, got ${maxQueuedMessages}`);
  }
  const multiplexed = createWatchStreamSource(
    connection === undefined
      ? (client as Client<typeof BridgeService>)
      : createGrpcWatchStreamOpener(connection),
    {
      silenceLimitMs: heartbeatIntervalMs * missedHeartbeats,
      heartbeatIntervalMs,
      missedHeartbeats,
      maxQueuedMessages,
    },
  );
  if (mode === "multiplexed") return multiplexed;
  return createFallbackWatchSource(multiplexed, perWatch());
}

function incarnationOf(given: StreamConsumerOptions["incarnation"]): { incarnation?: string } {
  const incarnation = typeof given === "function" ? given() : given;
  return incarnation === undefined || incarnation === "" ? {} : { incarnation };
}

function checkIdentifiers(identifiers: Iterable<string>): readonly string[] {
  // A single string is iterable too; taking it character by character would watch nonsense.
  if (typeof identifiers === "string") {
    throw new StateError("invalid_value", "watch needs a list of identifiers, got a single string");
  }
  if (identifiers === null || typeof identifiers !== "object" || !(Symbol.iterator in identifiers)) {
    throw new StateError("invalid_value", "watch needs a list of identifiers");
  }
  const list = [...identifiers];
  if (list.length === 0) throw new StateError("invalid_value", "watch needs at least one identifier");
  for (const identifier of list) {
    if (typeof identifier !== "string" || identifier === "") {
      throw new StateError(
        "invalid_value",
        `watch identifiers must be non-empty strings, got ${JSON.stringify(identifier)}`,
      );
    }
  }
  return Object.freeze(list);
}

function checkRevision(revision: unknown): number {
  if (typeof revision !== "number" || !Number.isSafeInteger(revision) || revision < 0) {
    throw new StateError(
      "invalid_value",
      `fromRevision must be a non-negative integer, got ${String(revision)}`,
    );
  }
  return revision;
}
