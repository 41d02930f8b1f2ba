import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ProtobufReader, UNUSUAL_ENCODING } from "@statebridge/grpc-wire";
import {
  BridgeService,
  type WatchEvents,
  WatchEventsSchema,
  WatchStreamRequestSchema,
  type WatchStreamResponse,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
  type WatchVariablesResponse,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { type GrpcConnection, openGrpcStream } from "./grpc-stream.js";
import { createMessageChannel } from "./message-channel.js";
import { announcedIntervalMs, createSilenceMonitor } from "./silence-monitor.js";
import { markSharedWatchEvents } from "./watch-events.js";
import type { WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";
import type { WatchStreamOpener } from "./watch-stream-source.js";
import type { WatchVariablesSourceOptions } from "./watch-variables-source.js";

const WATCH_STREAM_PATH = `/${BridgeService.typeName}/${BridgeService.method.watchStream.name}`;
const WATCH_VARIABLES_PATH = `/${BridgeService.typeName}/${BridgeService.method.watchVariables.name}`;
/** Messages a per-watch stream may have waiting before the stream is paused (flow control). */
const PAUSE_AT_MESSAGES = 64;

/**
 * A `WatchStreamOpener` (for `createWatchStreamSource`) that opens the multiplexed
 * `WatchStream` directly on `connection`'s HTTP/2 connection: each response is decoded once as
 * its bytes arrive and routed at once, without connect's per-message async pipeline.
 */
export function createGrpcWatchStreamOpener(connection: GrpcConnection): WatchStreamOpener {
  return (onResponse, onEnd, onBytes) => {
    const call = openGrpcStream(connection, WATCH_STREAM_PATH, WatchStreamResponseSchema, {
      decode: createWatchStreamResponseDecoder(),
      onMessage: onResponse,
      onReceive: onBytes,
      onEnd,
    });
    return {
      send: (request) =>
        call.send(toBinary(WatchStreamRequestSchema, create(WatchStreamRequestSchema, request))),
      cancel: () => call.cancel(),
    };
  };
}

/**
 * A decoder of `WatchStreamResponse` that decodes the events of one revision once for all the
 * watches of a stream. A change reaches the watches as one message naming them all
 * (`also_watch_ids`, for watches created with `share_events`) or as one message per watch, each
 * the watch id (field 1) followed by the same encoded `WatchEvents` (field 2): when a message
 * has that shape (with any `also_watch_ids` after) and its events bytes equal the previous
 * message's, the previous decoded `WatchEvents` is reused (the consumer only reads it). Every
 * other message is decoded in full.
 */
export function createWatchStreamResponseDecoder(): (bytes: Uint8Array) => WatchStreamResponse {
  const decodeEvents = createSharedEventsDecoder();
  return (bytes) => {
    const shape = eventsShape(bytes);
    if (shape === undefined) return fromBinary(WatchStreamResponseSchema, bytes);
    return {
      $typeName: "statebridge.v1.WatchStreamResponse",
      watchId: shape.watchId,
      kind: { case: "events", value: decodeEvents(bytes, shape.eventsStart, shape.eventsEnd) },
      alsoWatchIds: shape.alsoWatchIds,
    };
  };
}

/**
 * A decoder of `WatchVariablesResponse` shared by every per-watch stream of a source: a change
 * reaches each watch on a stream of its own, with the same encoded events, decoded once (see
 * {@link createWatchStreamResponseDecoder}).
 */
export function createWatchVariablesResponseDecoder(): (bytes: Uint8Array) => WatchVariablesResponse {
  const decodeEvents = createSharedEventsDecoder();
  return (bytes) => {
    const eventsStart = variablesEventsStart(bytes);
    if (eventsStart !== undefined) {
      return {
        $typeName: "statebridge.v1.WatchVariablesResponse",
        kind: { case: "events", value: decodeEvents(bytes, eventsStart, bytes.byteLength) },
      };
    }
    return fromBinary(WatchVariablesResponseSchema, bytes);
  };
}

/**
 * Decodes the `WatchEvents` from `start` to `end` of `bytes`, reusing the last decoded one
 * when the bytes are equal (and marking it shared, see `markSharedWatchEvents`).
 */
function createSharedEventsDecoder(): (bytes: Uint8Array, start: number, end: number) => WatchEvents {
  let previousBytes: Buffer | undefined;
  let previousEvents: WatchEvents | undefined;
  return (bytes, start, end) => {
    const eventsBytes = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
    if (previousEvents !== undefined && previousBytes?.equals(eventsBytes)) {
      markSharedWatchEvents(previousEvents);
      return previousEvents;
    }
    // A Uint8Array view, not a Buffer: bytes fields then decode as Uint8Array views, whose
    // slice() copies, as the packed-number decoder expects.
    const events = fromBinary(
      WatchEventsSchema,
      new Uint8Array(eventsBytes.buffer, eventsBytes.byteOffset, eventsBytes.byteLength),
    );
    // A copy: the chunk's memory may be reused once this message is handled.
    previousBytes = Buffer.from(eventsBytes);
    previousEvents = events;
    return events;
  };
}

const VARIABLES_EVENTS_TAG = (1 << 3) | 2;
const WATCH_ID_TAG = (1 << 3) | 2;
const EVENTS_TAG = (2 << 3) | 2;
const ALSO_WATCH_IDS_TAG = (6 << 3) | 2;

/** The parts of a `watch_id` + `events` + `also_watch_ids` message. */
interface EventsShape {
  readonly watchId: string;
  readonly eventsStart: number;
  readonly eventsEnd: number;
  readonly alsoWatchIds: string[];
}

/**
 * Where the events of a `watch_id` + `events` (+ `also_watch_ids`) message are, and its watch
 * ids; `undefined` for any other layout (which the full decoder then reads). The ids are read
 * by grpc-wire's reader, which hands out the strings it read before for the same bytes: the
 * same few watch ids come in every message, and the router's Map finds their hashes computed.
 */
function eventsShape(bytes: Uint8Array): EventsShape | undefined {
  const reader = new ProtobufReader(bytes);
  try {
    let watchId = "";
    if (bytes[0] === WATCH_ID_TAG) {
      reader.position = 1;
      watchId = reader.string();
    }
    if (reader.byte() !== EVENTS_TAG) return undefined;
    const eventsEnd = reader.lengthEnd();
    const eventsStart = reader.position;
    reader.position = eventsEnd;
    const alsoWatchIds: string[] = [];
    while (reader.position < reader.end) {
      if (reader.byte() !== ALSO_WATCH_IDS_TAG) return undefined;
      alsoWatchIds.push(reader.string());
    }
    return { watchId, eventsStart, eventsEnd, alsoWatchIds };
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
}

/** Where the events of a `WatchVariablesResponse` holding only events start; else undefined. */
function variablesEventsStart(bytes: Uint8Array): number | undefined {
  if (bytes[0] !== VARIABLES_EVENTS_TAG) return undefined;
  const reader = new ProtobufReader(bytes);
  reader.position = 1;
  try {
    return reader.lengthEnd() === bytes.byteLength ? reader.position : undefined;
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
}

/**
 * The per-watch {@link WatchSource} of `createWatchVariablesSource`, speaking gRPC directly on
 * `connection`'s HTTP/2 connection: one `WatchVariables` stream per attempt of each watch,
 * taken for dead (`unavailable`) after `missedHeartbeats` silent heartbeat intervals while the
 * watch waits for a message. A watcher that falls behind pauses its stream, so that HTTP/2
 * flow control holds the server back as it would with a connect client.
 */
export function createGrpcWatchVariablesSource(
  connection: GrpcConnection,
  options: WatchVariablesSourceOptions,
): WatchSource {
  const silenceLimitMs = options.heartbeatIntervalMs * options.missedHeartbeats;
  const monitor = createSilenceMonitor(silenceLimitMs);
  const decode = createWatchVariablesResponseDecoder();

  function open(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage> {
    return {
      [Symbol.asyncIterator]() {
        const channel = createMessageChannel<WatchMessage>();
        const messages = channel[Symbol.asyncIterator]();
        if (signal.aborted) {
          channel.end();
          return messages;
        }
        let paused = false;
        const silence = monitor.watch(() => {
          call.cancel();
          channel.fail(
            new StateError(
              "unavailable",
              `watch stream heard nothing for ${silenceLimitMs} ms (${options.missedHeartbeats} heartbeat intervals)`,
            ),
          );
        });
        const call = openGrpcStream(connection, WATCH_VARIABLES_PATH, WatchVariablesResponseSchema, {
          decode,
          onReceive() {
            silence.receiving();
          },
          onMessage({ kind }) {
            const announced = announcedIntervalMs(kind);
            if (announced > 0) silence.allow(announced * options.missedHeartbeats);
            if (kind.case === "events") channel.push({ kind: "events", events: kind.value });
            else if (kind.case === "heartbeat")
              channel.push({
                kind: "heartbeat",
                revision: Number(kind.value.revision),
                incarnation: kind.value.incarnation,
              });
            else if (kind.case === "created")
              channel.push({
                kind: "opened",
                revision: Number(kind.value.revision),
                ids: kind.value.ids,
                incarnation: kind.value.incarnation,
              });
            // A message of a kind this client does not know is skipped: it still proved the
            // stream alive.
            else return;
            if (!paused && channel.size >= PAUSE_AT_MESSAGES) {
              paused = true;
              call.pause();
            }
          },
          onEnd(error) {
            silence.stop();
            if (error === undefined) channel.end();
            else channel.fail(error);
          },
        });
        call.send(
          toBinary(
            WatchVariablesRequestSchema,
            create(WatchVariablesRequestSchema, {
              sessionId: request.sessionId,
              identifiers: [...request.identifiers],
              includeInitial: request.includeInitial,
              heartbeatIntervalMs: options.heartbeatIntervalMs,
              ...(request.fromRevision === undefined ? {} : { fromRevision: BigInt(request.fromRevision) }),
              incarnation: request.incarnation ?? "",
            }),
          ),
        );
        call.end();
        const stop = (): void => {
          signal.removeEventListener("abort", onAbort);
          silence.stop();
          call.cancel();
        };
        const onAbort = (): void => {
          stop();
          channel.fail(new StateError("closed", "the watch was closed"));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        return {
          async next() {
            silence.waiting();
            const result = await messages.next();
            silence.heard();
            if (paused && channel.size === 0) {
              paused = false;
              call.resume();
            }
            return result;
          },
          async return() {
            stop();
            return await (messages.return?.() ?? { done: true, value: undefined });
          },
        };
      },
    };
  }

  return {
    open,
    close() {},
  };
}
