import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { WatchCreate, WatchStreamRequest, WatchStreamResponseSchema } from "@statebridge/proto";
import type { WatchEventBatch, WatchSubscription } from "@statebridge/session-store";
import { isStateError, StateError } from "@statebridge/state-provider";
import { errorDetailOf, toConnectError } from "./error-translation.js";
import { encodeWatchEvents } from "./watch-encoding.js";
import { createWatchOpenBuffer, type WatchOpenBuffer } from "./watch-open-buffer.js";
import { createWatchQueue, QUEUE_DONE, type WatchQueueLimits } from "./watch-queue.js";
import {
  heartbeatIntervalOf,
  SMALL_MESSAGE_BYTES,
  slowConsumerError,
  type WatchDependencies,
} from "./watch-variables.js";
import { int64 } from "./wire-conversion.js";

type Message = MessageInitShape<typeof WatchStreamResponseSchema>;

/**
 * Implements `WatchStream`: many watches multiplexed over one bidirectional stream, as etcd
 * does. The client creates watches (each with a `watch_id` unique on the stream) and cancels
 * them; every response names its watch.
 *
 * - A create is answered by `created` with the watch's start revision, then its initial or
 *   replayed events, then its changes. A create that fails (unknown identifier, expired
 *   session, watcher quota) is answered by `ended` with the error; the stream goes on.
 * - A cancel is answered by `ended` without an error. Cancelling an unknown id does nothing.
 * - When a watch's session ends, that watch gets `ended` with `session_expired`.
 * - Heartbeats: whenever nothing is waiting to be sent, one per watch with its session's
 *   current revision and incarnation, or one stream-wide (empty `watch_id`, revision 0) if no
 *   watch is open; at the shortest interval the creates asked for (`heartbeat_interval_ms`,
 *   clamped as on `WatchVariables`; the server's default until one asks), which `created` and
 *   every heartbeat announce.
 * - A create naming an `incarnation` other than its session's (recreated under the same id)
 *   is answered by `ended` with `session_expired`.
 * - Watches created with `share_events` share events messages: the watches of the stream that
 *   get the same batch at once (one change, named alike) get one message, named by the first
 *   (`watch_id`) and the others (`also_watch_ids`), counted once against the queue's message
 *   limit and with its events' bytes once against its byte limit. Any message but events
 *   closes the open groups, and so does the writer taking one: a watch never joins a message
 *   that would put its events before anything sent to it earlier.
 * - A create that reuses a live `watch_id` (a client defect that would make responses
 *   ambiguous) ends that watch: the open one is cancelled, the create refused, and one `ended`
 *   with `invalid_value` answers both; the other watches and the stream go on.
 * - The whole stream ends with `resource_exhausted` for a consumer too slow for the queue
 *   (its message or byte limit), and with `unavailable` at shutdown. While more bytes wait
 *   than the queue allows (a replay may overfill it), no further request is read. Closing the
 *   request side keeps the open watches running until the call ends.
 */
export function createWatchStreamMethod(dependencies: WatchDependencies) {
  const { store, logger, streams } = dependencies;
  const limits: WatchQueueLimits = { messages: dependencies.queueLimit, bytes: dependencies.queueBytes };

  return async function* watchStream(
    requests: AsyncIterable<WatchStreamRequest>,
    context: HandlerContext,
  ): AsyncGenerator<Message> {
    const queue = createWatchQueue<Message>(limits);
    const untrack = dependencies.metrics?.track(queue);
    const watches = new Map<string, WatchSubscription>();
    const unregister = streams.add((error) => queue.abort(error));
    // Released at the end, or as soon as the client is gone (see watchVariables: a stalled
    // stream on connect's path never reaches `finally`); set once the timer exists.
    let release = (): void => {};
    const onAbort = () => {
      queue.abort();
      release();
    };
    context.signal.addEventListener("abort", onAbort, { once: true });

    // The shared events messages still open to more watches, by the batch they carry.
    const openGroups = new Map<WatchEventBatch, Message & { alsoWatchIds: string[] }>();

    /** Queues an events message, or cuts the consumer off. */
    const push = (message: Message, bytes: number): void => {
      if (queue.push(message, bytes) || queue.ended) return;
      cutOff(queue);
    };

    /** Ends the stream for a consumer too slow for the queue's limits, given what waits for it. */
    function cutOff(held: { readonly size: number; readonly bytes: number }): void {
      logger.warn(
        { queued: held.size, queuedBytes: held.bytes, watches: watches.size },
        "watch stream cut off: consumer too slow",
      );
      queue.abort(slowConsumerError(held, limits));
      dependencies.metrics?.slowConsumerCutOff();
      queueMicrotask(closeAll);
    }

    /** Queues any other message: after it, no watch joins a message queued before. */
    const send = (message: Message, bytes = SMALL_MESSAGE_BYTES + (message.watchId?.length ?? 0)): void => {
      if (openGroups.size > 0) openGroups.clear();
      push(message, bytes);
    };

    const sendEvents = (watchId: string, batch: WatchEventBatch): void =>
      push(
        { watchId, kind: { case: "events", value: encodeWatchEvents(batch) } },
        batch.bytes + watchId.length,
      );

    /** Sends `batch` to a `share_events` watch: in a message open for it, or in a new one. */
    const sendSharedEvents = (watchId: string, batch: WatchEventBatch): void => {
      const group = openGroups.get(batch);
      if (group !== undefined) {
        group.alsoWatchIds.push(watchId);
        queue.charge(watchId.length + 2);
        return;
      }
      const message = {
        watchId,
        kind: { case: "events" as const, value: encodeWatchEvents(batch) },
        alsoWatchIds: [] as string[],
      };
      push(message, batch.bytes + watchId.length);
      if (!queue.ended) openGroups.set(batch, message);
    };

    // The buffer of the watch being opened (creates are read one at a time), if one is.
    let opening: WatchOpenBuffer | undefined;

    function closeAll(): void {
      for (const subscription of watches.values()) subscription.close();
      watches.clear();
      opening?.release();
    }

    const ended = (watchId: string, error?: StateError): Message => ({
      watchId,
      kind: { case: "ended", value: error === undefined ? {} : { error: errorDetailOf(error) } },
    });

    /** Opens one watch; requests are read one at a time, so a cancel waits for its create. */
    async function create(request: WatchCreate): Promise<void> {
      const { watchId } = request;
      askHeartbeatInterval(request.heartbeatIntervalMs);
      if (watchId === "") {
        send(ended("", new StateError("invalid_value", "a watch needs a non-empty watch_id")));
        return;
      }
      const live = watches.get(watchId);
      if (live !== undefined) {
        watches.delete(watchId);
        live.close();
        send(
          ended(
            watchId,
            new StateError(
              "invalid_value",
              `watch_id ${JSON.stringify(watchId)} is already in use on this stream: that watch is ended`,
            ),
          ),
        );
        return;
      }
      // Events that come before store.watch resolves wait here, counted against the queue's
      // limits: past them the stream is cut off as for a slow consumer.
      const early = createWatchOpenBuffer(queue, limits);
      opening = early;
      let confirmed = false;
      let endedEarly: StateError | undefined;
      const deliver = request.shareEvents ? sendSharedEvents : sendEvents;
      const listener = {
        onEvents(batch: WatchEventBatch) {
          if (confirmed) deliver(watchId, batch);
          else if (!early.hold(batch)) {
            cutOff({ size: queue.size + early.size, bytes: queue.bytes + early.bytes });
          }
        },
        onEnd(error: StateError) {
          if (!confirmed) {
            endedEarly = error;
            return;
          }
          watches.delete(watchId);
          send(ended(watchId, error));
        },
      };
      let subscription: WatchSubscription;
      try {
        if (request.sessionId === "") {
          throw new StateError("invalid_value", "session_id is required and must not be empty");
        }
        if (request.identifiers.length === 0) {
          throw new StateError("invalid_value", "a watch needs at least one identifier");
        }
        subscription = await early.unbounded(() =>
          store.watch(request.sessionId, request.identifiers, listener, {
            includeInitial: request.includeInitial,
            ...(request.fromRevision === undefined ? {} : { fromRevision: Number(request.fromRevision) }),
            ...(request.incarnation === "" ? {} : { incarnation: request.incarnation }),
          }),
        );
      } catch (error) {
        send(ended(watchId, asStateError(error)));
        return;
      } finally {
        opening = undefined;
      }
      if (queue.ended) {
        // The stream ended while the store was opening the watch: nothing will send its events.
        subscription.close();
        return;
      }
      // The replay is bounded by the store's history, so it is queued whatever the limit.
      queue.unbounded(() => {
        send({
          watchId,
          kind: {
            case: "created",
            value: {
              revision: int64(subscription.startRevision),
              ids: [...subscription.ids],
              incarnation: subscription.incarnation,
              heartbeatIntervalMs,
            },
          },
        });
        for (const batch of early.take()) deliver(watchId, batch);
      });
      confirmed = true;
      if (endedEarly !== undefined) send(ended(watchId, endedEarly));
      else watches.set(watchId, subscription);
    }

    function cancel(watchId: string): void {
      const subscription = watches.get(watchId);
      if (subscription === undefined) return;
      watches.delete(watchId);
      subscription.close();
      send(ended(watchId));
    }

    function asStateError(error: unknown): StateError {
      if (isStateError(error)) return error;
      logger.error({ err: error, procedure: "WatchStream" }, "unexpected error while creating a watch");
      return new StateError("unavailable", "internal error while creating the watch", { cause: error });
    }

    const reading = (async () => {
      for await (const request of requests) {
        if (queue.ended) return;
        if (request.kind.case === "create") {
          // A replay may overfill the queue: the next create waits until the consumer has read it.
          await queue.withinBytes();
          if (queue.ended) return;
          await create(request.kind.value);
        } else if (request.kind.case === "cancel") cancel(request.kind.value.watchId);
      }
    })();
    reading.catch((error: unknown) => queue.abort(error));

    // The stream heartbeats at the shortest interval its watches asked for (the server's
    // default until one asks), and says which in `created` and every heartbeat.
    let heartbeatIntervalMs = dependencies.heartbeatIntervalMs;
    let heartbeatAsked = false;
    function askHeartbeatInterval(requested: number): void {
      const asked = heartbeatIntervalOf(requested, dependencies.heartbeatIntervalMs);
      if (heartbeatAsked && asked >= heartbeatIntervalMs) return;
      heartbeatAsked = true;
      if (asked === heartbeatIntervalMs) return;
      heartbeatIntervalMs = asked;
      clearInterval(timer);
      timer = setInterval(heartbeat, asked);
      timer.unref();
    }

    function heartbeat(): void {
      if (queue.size !== 0) return;
      if (watches.size === 0) {
        send({
          watchId: "",
          kind: {
            case: "heartbeat",
            value: { revision: 0n, serverTimeMs: int64(Date.now()), intervalMs: heartbeatIntervalMs },
          },
        });
        return;
      }
      const now = int64(Date.now());
      // One per watch: bounded by the number of watches, not by the queue limit.
      queue.unbounded(() => {
        for (const [watchId, subscription] of watches) {
          send({
            watchId,
            kind: {
              case: "heartbeat",
              value: {
                revision: int64(subscription.currentRevision()),
                serverTimeMs: now,
                incarnation: subscription.incarnation,
                intervalMs: heartbeatIntervalMs,
              },
            },
          });
        }
      });
    }
    let timer = setInterval(heartbeat, dependencies.heartbeatIntervalMs);
    timer.unref();
    release = () => {
      clearInterval(timer);
      closeAll();
      unregister();
      untrack?.();
    };

    try {
      for (;;) {
        const message = await queue.take();
        if (message === QUEUE_DONE) return;
        // Taken, it may be encoded at once: no watch joins it any more.
        if (openGroups.size > 0) openGroups.clear();
        yield message;
      }
    } catch (error) {
      throw toConnectError(error, logger, { procedure: "WatchStream" });
    } finally {
      queue.abort();
      release();
      context.signal.removeEventListener("abort", onAbort);
    }
  };
}
