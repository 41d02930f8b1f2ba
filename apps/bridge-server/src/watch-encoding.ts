import { create, type DescMessage, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { ENVELOPE_HEADER_BYTES, encodeEnvelope } from "@statebridge/grpc-wire";
import {
  type WatchEvent as ProtoWatchEvent,
  type WatchEvents,
  WatchEventsSchema,
  WatchEventType,
  WatchStreamResponseSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import type { WatchEventBatch } from "@statebridge/session-store";
import type { WatchEvent } from "@statebridge/state-provider";
import { encodeWatchEventsMessage } from "./watch-events-encoding.js";
import { int64, jsonFieldOf, toProtoValueKind } from "./wire-conversion.js";

const EVENT_TYPES: Readonly<Record<WatchEvent["type"], WatchEventType>> = {
  initial: WatchEventType.INITIAL,
  value_change: WatchEventType.VALUE_CHANGE,
  deleted: WatchEventType.DELETED,
  resync: WatchEventType.RESYNC,
};

/** The message of each batch, and the bytes of each message once encoded. */
const messagesOfBatches = new WeakMap<WatchEventBatch, WatchEvents>();
const bytesOfMessages = new WeakMap<WatchEvents, Uint8Array>();

/**
 * Encodes the events of one revision for a watch stream. The store hands one batch to every
 * watcher of a change that names the variable alike, so the message is built once per batch
 * (and, on the direct path, serialized once: see {@link frameWatchResponse}).
 */
export function encodeWatchEvents(batch: WatchEventBatch): WatchEvents {
  let message = messagesOfBatches.get(batch);
  if (message === undefined) {
    // Built as the message itself, which is what create(WatchEventsSchema, …) returns for
    // these fields (test/watch-events-encoding.test.ts), without its zero messages and copies.
    message = {
      $typeName: "statebridge.v1.WatchEvents",
      revision: int64(batch.revision),
      events: batch.events.map(encodeWatchEvent),
    };
    messagesOfBatches.set(batch, message);
  }
  return message;
}

function encodeWatchEvent(event: WatchEvent): ProtoWatchEvent {
  const message: ProtoWatchEvent = {
    $typeName: "statebridge.v1.WatchEvent",
    type: EVENT_TYPES[event.type],
    identifier: event.identifier,
    id: event.id,
    name: event.name,
    variableType: event.variableType,
    version: int64(event.version),
    revision: int64(event.revision),
    source: event.source,
    metadataJson: jsonFieldOf(event.metadata),
    timestampMs: int64(event.timestamp),
  };
  // Left unset when absent, as create() leaves them.
  if (event.oldValue !== undefined) {
    message.oldValue = {
      $typeName: "statebridge.v1.Value",
      kind: toProtoValueKind(event.variableType, event.oldValue),
    };
  }
  if (event.newValue !== undefined) {
    message.newValue = {
      $typeName: "statebridge.v1.Value",
      kind: toProtoValueKind(event.variableType, event.newValue),
    };
  }
  return message;
}

function bytesOf(message: WatchEvents): Uint8Array {
  let bytes = bytesOfMessages.get(message);
  if (bytes === undefined) {
    // Written by hand (byte-equal to toBinary), or by protobuf-es for what that leaves to it.
    bytes = encodeWatchEventsMessage(message) ?? toBinary(WatchEventsSchema, message);
    bytesOfMessages.set(message, bytes);
  }
  return bytes;
}

/** The response messages a watch method yields. */
type WatchResponse =
  | MessageInitShape<typeof WatchStreamResponseSchema>
  | MessageInitShape<typeof WatchVariablesResponseSchema>;

/**
 * One response message of `WatchStream` or `WatchVariables` (`schema`) as a gRPC envelope.
 * Events messages are framed by hand around their `WatchEvents` bytes, serialized once per
 * revision whatever the number of watches it reaches; every other message, and any message
 * not built by {@link encodeWatchEvents}, is serialized by protobuf-es. The bytes are equal to
 * protobuf-es's in every case (held so by a differential test).
 */
export function frameWatchResponse(schema: DescMessage, response: WatchResponse): Buffer {
  const kind = response.kind;
  if (kind?.case === "events" && isMessage(kind.value, WatchEventsSchema)) {
    const events = bytesOf(kind.value);
    if (schema === WatchStreamResponseSchema) {
      const streamResponse = response as MessageInitShape<typeof WatchStreamResponseSchema>;
      return frameEvents(
        streamResponse.watchId ?? "",
        STREAM_EVENTS_TAG,
        events,
        streamResponse.alsoWatchIds,
      );
    }
    if (schema === WatchVariablesResponseSchema) return frameEvents("", VARIABLES_EVENTS_TAG, events);
  }
  return encodeEnvelope(toBinary(schema, create(schema, response as never)));
}

/**
 * `WatchStreamResponse.watch_id` (1), `.events` (2) and `.also_watch_ids` (6),
 * `WatchVariablesResponse.events` (1): length-delimited.
 */
const WATCH_ID_TAG = (1 << 3) | 2;
const STREAM_EVENTS_TAG = (2 << 3) | 2;
const ALSO_WATCH_IDS_TAG = (6 << 3) | 2;
const VARIABLES_EVENTS_TAG = (1 << 3) | 2;

/**
 * An envelope holding `watch_id` (left out when empty, as proto3 does), the events field `tag`
 * with `events`, then each of `alsoWatchIds`: fields in number order, as protobuf-es writes them.
 */
function frameEvents(
  watchId: string,
  tag: number,
  events: Uint8Array,
  alsoWatchIds: readonly string[] = [],
): Buffer {
  const idBytes = watchId === "" ? 0 : Buffer.byteLength(watchId, "utf8");
  const idField = idBytes === 0 ? 0 : 1 + varintLength(idBytes) + idBytes;
  let alsoBytes = 0;
  for (const also of alsoWatchIds) {
    const bytes = Buffer.byteLength(also, "utf8");
    alsoBytes += 1 + varintLength(bytes) + bytes;
  }
  const length = idField + 1 + varintLength(events.byteLength) + events.byteLength + alsoBytes;
  const framed = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + length);
  framed[0] = 0;
  framed.writeUInt32BE(length, 1);
  let offset = ENVELOPE_HEADER_BYTES;
  if (idBytes > 0) {
    framed[offset++] = WATCH_ID_TAG;
    offset = writeVarint(framed, offset, idBytes);
    offset += framed.write(watchId, offset, idBytes, "utf8");
  }
  framed[offset++] = tag;
  offset = writeVarint(framed, offset, events.byteLength);
  framed.set(events, offset);
  offset += events.byteLength;
  for (const also of alsoWatchIds) {
    const bytes = Buffer.byteLength(also, "utf8");
    framed[offset++] = ALSO_WATCH_IDS_TAG;
    offset = writeVarint(framed, offset, bytes);
    offset += framed.write(also, offset, bytes, "utf8");
  }
  return framed;
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length++;
  }
  return length;
}

function writeVarint(target: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset;
}
