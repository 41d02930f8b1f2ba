import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { BridgeService, WatchStreamRequestSchema, WatchStreamResponse } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { stateErrorFromErrorDetail } from "./connect-errors.js";
import { createMessageChannel, type MessageChannel } from "./message-channel.js";
import { announcedIntervalMs, createSilenceMonitor, type SilenceWatch } from "./silence-monitor.js";
import { markSharedWatchEvents } from "./watch-events.js";
import type { WatchListener, WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";

/** Options of {@link createWatchStreamSource}. */
export interface WatchStreamSourceOptions {
  /**
   * Silence after which the shared stream is taken for dead, in milliseconds. The server
   * heartbeats every watch at its own interval on a multiplexed stream, so this must exceed
   * that interval by a margin (three intervals is usual).
   */
  readonly silenceLimitMs: number;
  /**
   * Heartbeat interval asked of the server with every create, in milliseconds; the stream
   * heartbeats at the shortest one asked. Default: none asked (the server's own).
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * Heartbeat intervals of silence tolerated: when the server announces a longer interval
   * than the one asked (a clamp, or a server that ignores the ask), the silence limit grows to
   * this many of its intervals. Default 3.
   */
  readonly missedHeartbeats?: number;
  /**
   * Messages one watch may have waiting on the client while its watcher is busy. Past it the
   * watch is cancelled on the stream and reported `resource_exhausted`, which the consumer
   * resumes from its last revision, so that one slow watcher never stalls the others.
   */
  readonly maxQueuedMessages: number;
  /**
   * How long the stream stays open after its last watch closed, in milliseconds, so that a
   * burst of open/close cycles reuses it. Ending a stream resets it (RST_STREAM), and a Node
   * server drops a connection that resets streams faster than nghttp2's flood limit allows.
   * Default 1,000.
   */
  readonly lingerMs?: number;
  /**
   * Whether watches are created with `share_events`, so that a change reaching several of
   * them comes as one message naming them all (decoded once) instead of one per watch.
   * Default true; false asks for one message per watch, as servers before it sent.
   */
  readonly shareEvents?: boolean;
}

type Request = MessageInitShape<typeof WatchStreamRequestSchema>;

/** One open `WatchStream` call, as the multiplexed source drives it. */
export interface WatchStreamCall {
  /** Sends a request (a watch's `create` or `cancel`). */
  send(request: Request): void;
  /** Ends the call on both ends; `onEnd` need not be called after it. */
  cancel(): void;
}

/**
 * Opens a `WatchStream` call: each response goes to `onResponse` in order; `onEnd` is told
 * once how the call ended (`undefined` when the server ended it cleanly). An opener that sees
 * the bytes arrive tells `onBytes` of each chunk, so that a large message still arriving keeps
 * the stream alive.
 */
export type WatchStreamOpener = (
  onResponse: (response: WatchStreamResponse) => void,
  onEnd: (error: unknown) => void,
  onBytes: () => void,
) => WatchStreamCall;

interface SharedStream {
  readonly channels: Map<string, MessageChannel<WatchMessage>>;
  call: WatchStreamCall | undefined;
  silence: SilenceWatch | undefined;
  broken: boolean;
  linger: NodeJS.Timeout | undefined;
}

/**
 * A {@link WatchSource} that carries every watch of a consumer over one `WatchStream`
 * (bidirectional, multiplexed, as etcd does): 10,000 watchers cost one HTTP/2 stream, not
 * 10,000. The stream is opened with the first watch and ended after the last one closes.
 *
 * A watch's attempt ends when the server ends that watch (`ended`, with its error) or when
 * the whole stream breaks (every attempt then fails with the stream's error, and each watch
 * reconnects by itself: the first to come back opens a new stream, the others join it).
 *
 * `client` is a connect client, or a {@link WatchStreamOpener} that speaks to the server some
 * other way (see `createGrpcWatchStreamOpener`).
 */
export function createWatchStreamSource(
  client: Client<typeof BridgeService> | WatchStreamOpener,
  options: WatchStreamSourceOptions,
): WatchSource {
  let shared: SharedStream | undefined;
  let nextWatchNumber = 1;
  let closed = false;
  const lingerMs = options.lingerMs ?? 1_000;
  const monitor = createSilenceMonitor(options.silenceLimitMs);
  const openCall = typeof client === "function" ? client : connectWatchStreamOpener(client);

  function currentStream(): SharedStream {
    if (shared !== undefined && !shared.broken) {
      clearTimeout(shared.linger);
      shared.linger = undefined;
      return shared;
    }
    const stream: SharedStream = {
      channels: new Map(),
      call: undefined,
      silence: undefined,
      broken: false,
      linger: undefined,
    };
    shared = stream;
    const silence = monitor.watch(() => {
      breakStream(
        stream,
        new StateError(
          "unavailable",
          `the multiplexed watch stream heard nothing for ${options.silenceLimitMs} ms`,
        ),
      );
    });
    stream.silence = silence;
    stream.call = openCall(
      (response) => {
        silence.waiting();
        route(stream, response);
      },
      (error) => {
        silence.stop();
        breakStream(
          stream,
          error ?? new StateError("unavailable", "the server ended the multiplexed watch stream"),
        );
      },
      () => silence.waiting(),
    );
    return stream;
  }

  function breakStream(stream: SharedStream, error: unknown): void {
    if (stream.broken) return;
    stream.broken = true;
    clearTimeout(stream.linger);
    if (shared === stream) shared = undefined;
    stream.silence?.stop();
    stream.call?.cancel();
    for (const channel of stream.channels.values()) channel.fail(error);
    stream.channels.clear();
  }

  function route(stream: SharedStream, response: WatchStreamResponse): void {
    const { watchId, kind } = response;
    const announced = announcedIntervalMs(kind);
    if (announced > 0) stream.silence?.allow(announced * (options.missedHeartbeats ?? 3));
    if (kind.case === "events" && response.alsoWatchIds.length > 0) {
      // One message for several watches: each gets the events in this place of its own order,
      // decoded once for all (each watch still gets events of its own, see decodeWatchEvents).
      markSharedWatchEvents(kind.value);
      // One message object for all: watches only read what a channel hands them.
      const message: WatchMessage = { kind: "events", events: kind.value };
      deliverEvents(stream, watchId, message);
      for (const also of response.alsoWatchIds) deliverEvents(stream, also, message);
      return;
    }
    // Stream-wide heartbeats, and late messages of a watch already cancelled, only prove
    // the stream alive.
    const channel = stream.channels.get(watchId);
    if (channel === undefined) return;
    switch (kind.case) {
      case "created":
        channel.push({
          kind: "opened",
          revision: Number(kind.value.revision),
          ids: kind.value.ids,
          incarnation: kind.value.incarnation,
        });
        break;
      case "events":
        channel.push({ kind: "events", events: kind.value });
        break;
      case "heartbeat":
        channel.push({
          kind: "heartbeat",
          revision: Number(kind.value.revision),
          incarnation: kind.value.incarnation,
        });
        break;
      case "ended":
        stream.channels.delete(watchId);
        channel.fail(
          kind.value.error === undefined
            ? new StateError("unavailable", "the server ended the watch")
            : stateErrorFromErrorDetail(kind.value.error),
        );
        return;
      default:
        return;
    }
    checkBacklog(stream, watchId, channel);
  }

  function deliverEvents(stream: SharedStream, watchId: string, message: WatchMessage): void {
    const channel = stream.channels.get(watchId);
    if (channel === undefined) return;
    channel.push(message);
    checkBacklog(stream, watchId, channel);
  }

  /** Cuts off a watch whose watcher has more messages waiting than it may. */
  function checkBacklog(stream: SharedStream, watchId: string, channel: MessageChannel<WatchMessage>): void {
    if (channel.size <= options.maxQueuedMessages) return;
    release(stream, watchId, channel);
    channel.fail(
      new StateError(
        "resource_exhausted",
        `the watcher is too slow: more than ${options.maxQueuedMessages} messages were waiting for it`,
      ),
    );
  }

  /** Forgets a watch and cancels it on the server; the stream ends a while after the last one. */
  function release(stream: SharedStream, watchId: string, channel: MessageChannel<WatchMessage>): void {
    if (stream.channels.get(watchId) !== channel) return;
    stream.channels.delete(watchId);
    if (stream.broken) return;
    stream.call?.send({ kind: { case: "cancel", value: { watchId } } });
    if (stream.channels.size > 0) return;
    clearTimeout(stream.linger);
    stream.linger = setTimeout(() => {
      if (stream.channels.size === 0)
        breakStream(stream, new StateError("closed", "no watch left on the stream"));
    }, lingerMs);
    // The timer alone must not keep the process alive.
    stream.linger.unref();
  }

  /**
   * Creates a watch on the shared stream: its channel, the `create` sent for it, and what
   * releases it (`leave`, and an abort of `signal`, which also fails the channel).
   */
  function attach(
    request: WatchRequest,
    signal: AbortSignal,
  ): { readonly channel: MessageChannel<WatchMessage>; readonly leave: () => void } {
    if (closed) throw new StateError("closed", "the watch source is closed");
    const stream = currentStream();
    const watchId = `w${nextWatchNumber++}`;
    const channel = createMessageChannel<WatchMessage>();
    stream.channels.set(watchId, channel);
    const onAbort = () => {
      release(stream, watchId, channel);
      channel.fail(new StateError("closed", "the watch was closed"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    stream.call?.send({
      kind: {
        case: "create",
        value: {
          watchId,
          sessionId: request.sessionId,
          identifiers: [...request.identifiers],
          includeInitial: request.includeInitial,
          ...(request.fromRevision === undefined ? {} : { fromRevision: BigInt(request.fromRevision) }),
          incarnation: request.incarnation ?? "",
          heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0,
          shareEvents: options.shareEvents ?? true,
        },
      },
    });
    return {
      channel,
      leave() {
        signal.removeEventListener("abort", onAbort);
        release(stream, watchId, channel);
      },
    };
  }

  function open(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage> {
    return {
      [Symbol.asyncIterator]() {
        if (signal.aborted) return createMessageChannel<WatchMessage>()[Symbol.asyncIterator]();
        const { channel, leave } = attach(request, signal);
        // Not an async generator delegating to the channel: that would cost two more promise
        // hops per message, on the path every event of every watch takes.
        const messages = channel[Symbol.asyncIterator]();
        return {
          next: () => messages.next(),
          async return() {
            leave();
            return await (messages.return?.() ?? { done: true, value: undefined });
          },
        };
      },
    };
  }

  /**
   * {@link open} in push mode: a message reaching a watch whose watcher is idle is handled
   * from `route` itself, so one message for many watches is one synchronous loop over them.
   */
  function listen(request: WatchRequest, signal: AbortSignal, listener: WatchListener): void {
    if (signal.aborted) {
      listener.end(new StateError("closed", "the watch was closed"));
      return;
    }
    let attached: ReturnType<typeof attach>;
    try {
      attached = attach(request, signal);
    } catch (error) {
      listener.end(error);
      return;
    }
    const { channel, leave } = attached;
    channel.consume(listener, (error) => {
      // A listener that failed leaves the watch, as an iterator's return() does.
      leave();
      listener.end(error);
    });
  }

  return {
    open,
    listen,
    close() {
      closed = true;
      if (shared !== undefined) breakStream(shared, new StateError("closed", "the watch source is closed"));
    },
  };
}

/** A {@link WatchStreamOpener} on a connect client. */
function connectWatchStreamOpener(client: Client<typeof BridgeService>): WatchStreamOpener {
  return (onResponse, onEnd) => {
    const requests = createMessageChannel<Request>();
    const call = new AbortController();
    void (async () => {
      try {
        const responses = client.watchStream(generate(requests), { signal: call.signal });
        for await (const response of responses) onResponse(response);
        onEnd(undefined);
      } catch (error) {
        onEnd(error);
      }
    })();
    return {
      send: (request) => requests.push(request),
      cancel() {
        call.abort();
        requests.end();
      },
    };
  };
}

/** Connect aborts a request stream through `throw()`, which an async generator has. */
async function* generate<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
  yield* messages;
}
