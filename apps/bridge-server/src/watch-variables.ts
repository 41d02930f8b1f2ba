import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { WatchVariablesRequest, WatchVariablesResponseSchema } from "@statebridge/proto";
import type { SessionStore, WatchEventBatch, WatchSubscription } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import { missingSessionId, toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";
import type { WatchMetrics } from "./metrics.js";
import { encodeWatchEvents } from "./watch-encoding.js";
import { createWatchOpenBuffer } from "./watch-open-buffer.js";
import { createWatchQueue, QUEUE_DONE, type WatchQueue, type WatchQueueLimits } from "./watch-queue.js";
import type { StreamRegistry } from "./watch-registry.js";
import { int64 } from "./wire-conversion.js";

/** What the watch streams need from the server. */
export interface WatchDependencies {
  readonly store: SessionStore;
  readonly logger: BridgeServerLogger;
  /** Open streams, ended together at shutdown. */
  readonly streams: StreamRegistry;
  /** Heartbeat interval when the client asks for none. */
  readonly heartbeatIntervalMs: number;
  /** Messages one stream may hold for a consumer that does not keep up. */
  readonly queueLimit: number;
  /** Bytes (of the values and metadata its messages carry) one stream may hold likewise. */
  readonly queueBytes: number;
  /** Told of every stream's queue and of every cut-off, for the metrics; none: not told. */
  readonly metrics?: WatchMetrics;
}

/** The shortest heartbeat interval a client may ask for. */
export const MIN_HEARTBEAT_INTERVAL_MS = 10;
/** The longest heartbeat interval a client may ask for. */
export const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;

type Message = MessageInitShape<typeof WatchVariablesResponseSchema>;
type Item =
  | { readonly batch: WatchEventBatch }
  | { readonly heartbeat: number }
  | { readonly created: WatchSubscription };

/**
 * Clamps a requested heartbeat interval to what the server allows; 0 means the default.
 */
export function heartbeatIntervalOf(requested: number, fallback: number): number {
  if (requested === 0) return fallback;
  return Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.max(MIN_HEARTBEAT_INTERVAL_MS, requested));
}

/** What a heartbeat, `created` or `ended` message counts for in a queue's bytes. */
export const SMALL_MESSAGE_BYTES = 64;

/**
 * The error a consumer too slow for its stream's queue is cut off with, naming the limit it
 * reached (the queue refused a push) and the flag that sets it.
 */
export function slowConsumerError(
  queue: Pick<WatchQueue<unknown>, "size">,
  limits: WatchQueueLimits,
): StateError {
  const reached =
    queue.size >= limits.messages
      ? `more than ${limits.messages} messages were waiting to be sent (--watch-queue-limit)`
      : `more than ${limits.bytes} bytes were waiting to be sent (--watch-queue-bytes)`;
  return new StateError(
    "resource_exhausted",
    `the watch consumer is too slow: ${reached}; resume from the last revision received`,
  );
}

/**
 * Implements `WatchVariables`: a server stream of a store watch.
 *
 * The stream begins with `created` (the start revision and the ids the watch follows), the
 * initial or replayed events (or, if there are none, a heartbeat), then every change
 * in revision order, with heartbeats carrying the session's current revision whenever nothing
 * else is waiting to be sent. It ends with the store's error when the session ends
 * (`session_expired`), with `resource_exhausted` when the consumer lets more than the queue's
 * message or byte limit pile up, and with `unavailable` ("server shutting down") at shutdown.
 */
export function createWatchVariablesMethod(dependencies: WatchDependencies) {
  const { store, logger, streams } = dependencies;
  const limits: WatchQueueLimits = { messages: dependencies.queueLimit, bytes: dependencies.queueBytes };

  return async function* watchVariables(
    request: WatchVariablesRequest,
    context: HandlerContext,
  ): AsyncGenerator<Message> {
    const queue = createWatchQueue<Item>(limits);
    const untrack = dependencies.metrics?.track(queue);
    let subscription: WatchSubscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    const unregister = streams.add((error) => queue.abort(error));
    // Initial, replayed and early live events may come before store.watch resolves, so
    // before `created` can be queued: they wait here, counted against the queue's limits.
    const early = createWatchOpenBuffer(queue, limits);
    // What the stream holds, released at its end or as soon as its client is gone: on
    // connect's path a stream whose consumer had stopped reading never resumes (its writer
    // waits for a drain that does not come), and would hold its watcher, and keep its session
    // alive, until shutdown.
    const release = (): void => {
      clearInterval(timer);
      early.release();
      subscription?.close();
      unregister();
      untrack?.();
    };
    const onAbort = () => {
      queue.abort();
      release();
    };
    context.signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (request.sessionId === "") throw missingSessionId();
      if (request.identifiers.length === 0) {
        throw new StateError("invalid_value", "a watch needs at least one identifier");
      }
      const options = {
        includeInitial: request.includeInitial,
        ...(request.fromRevision === undefined ? {} : { fromRevision: Number(request.fromRevision) }),
        ...(request.incarnation === "" ? {} : { incarnation: request.incarnation }),
      };
      // An end that comes before store.watch resolves waits too.
      let earlyEnd: StateError | undefined;
      const cutOff = (held: { readonly size: number; readonly bytes: number }): void => {
        logger.warn(
          { sessionId: request.sessionId, queued: held.size, queuedBytes: held.bytes },
          "watch stream cut off: consumer too slow",
        );
        queue.abort(slowConsumerError(held, limits));
        dependencies.metrics?.slowConsumerCutOff();
        early.release();
        // Released after the store has finished calling its observers for this change.
        queueMicrotask(() => subscription?.close());
      };
      const listener = {
        onEvents(batch: WatchEventBatch) {
          if (early.holding) {
            // Past the queue's limits it ends as for a slow consumer: the client resumes
            // from the last revision it received.
            if (!early.hold(batch)) {
              cutOff({ size: queue.size + early.size, bytes: queue.bytes + early.bytes });
            }
            return;
          }
          if (queue.push({ batch }, batch.bytes) || queue.ended) return;
          cutOff(queue);
        },
        onEnd(error: StateError) {
          if (early.holding) earlyEnd ??= error;
          else queue.finish(error);
        },
      };
      // A client gone (or a shutdown) while this is pending aborts the queue: the stream ends
      // below at the first take, and `finally` closes the subscription.
      const live = await early.unbounded(() =>
        store.watch(request.sessionId, request.identifiers, listener, options),
      );
      subscription = live;
      const replayed = early.take();
      // The replay is bounded by the store's history, so it is queued whatever the limit.
      queue.unbounded(() => {
        queue.push({ created: live }, SMALL_MESSAGE_BYTES);
        for (const batch of replayed) queue.push({ batch }, batch.bytes);
      });
      if (replayed.length === 0) queue.push({ heartbeat: live.currentRevision() }, SMALL_MESSAGE_BYTES);
      if (earlyEnd !== undefined) queue.finish(earlyEnd);
      const interval = heartbeatIntervalOf(request.heartbeatIntervalMs, dependencies.heartbeatIntervalMs);
      timer = setInterval(() => {
        // Sent only when nothing is waiting: then every event up to this revision is out.
        if (queue.size === 0) queue.push({ heartbeat: live.currentRevision() }, SMALL_MESSAGE_BYTES);
      }, interval);
      timer.unref();
      for (;;) {
        const item = await queue.take();
        if (item === QUEUE_DONE) return;
        yield "batch" in item
          ? { kind: { case: "events", value: encodeWatchEvents(item.batch) } }
          : "created" in item
            ? {
                kind: {
                  case: "created",
                  value: {
                    revision: int64(item.created.startRevision),
                    ids: [...item.created.ids],
                    incarnation: item.created.incarnation,
                    heartbeatIntervalMs: interval,
                  },
                },
              }
            : {
                kind: {
                  case: "heartbeat",
                  value: {
                    revision: int64(item.heartbeat),
                    serverTimeMs: int64(Date.now()),
                    incarnation: live.incarnation,
                    intervalMs: interval,
                  },
                },
              };
      }
    } catch (error) {
      throw toConnectError(error, logger, { procedure: "WatchVariables" });
    } finally {
      release();
      context.signal.removeEventListener("abort", onAbort);
    }
  };
}
