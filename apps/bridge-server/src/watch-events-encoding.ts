import {
  int64Size,
  stringFieldSize,
  valueMessageSize,
  varintSize,
  writeInt64,
  writeStringField,
  writeValue,
  writeVarint,
} from "@statebridge/grpc-wire";
import type { Value, WatchEvent, WatchEvents } from "@statebridge/proto";

// The WatchEvents message of each change written straight into one buffer, once per revision
// whatever the number of watches it reaches (see watch-encoding.ts), instead of through
// protobuf-es's writer (a chunk list forked per event and per Value, a TextEncoder copy per
// string). Values are written by grpc-wire's Value writer. The bytes are exactly
// those of `toBinary(WatchEventsSchema, message)`, held so by
// test/watch-events-encoding.test.ts over generated messages; anything unexpected (unknown
// fields, an int64 that is not a bigint in range, an enum that is not a small whole number)
// is left to protobuf-es.

/**
 * Encodes a WatchEvents message as `toBinary(WatchEventsSchema, message)` does.
 * @returns undefined for a message this encoder leaves to protobuf-es.
 */
export function encodeWatchEventsMessage(message: WatchEvents): Buffer | undefined {
  if (message.$unknown !== undefined) return undefined;
  const revisionSize = int64Size(message.revision);
  if (revisionSize < 0) return undefined;
  const events = message.events;
  const sizes: number[] = new Array(events.length);
  let length = revisionSize === 0 ? 0 : 1 + revisionSize;
  for (let index = 0; index < events.length; index++) {
    const size = eventSize(events[index] as WatchEvent);
    if (size < 0) return undefined;
    sizes[index] = size;
    length += 1 + varintSize(size) + size;
  }
  const buffer = Buffer.allocUnsafe(length);
  let offset = 0;
  if (revisionSize !== 0) {
    buffer[offset++] = 0x08;
    offset = writeInt64(buffer, offset, message.revision);
  }
  for (let index = 0; index < events.length; index++) {
    buffer[offset++] = 0x12;
    offset = writeVarint(buffer, offset, sizes[index] as number);
    offset = writeEvent(buffer, offset, events[index] as WatchEvent);
  }
  return buffer;
}

/** The encoded size of a WatchEvent, or -1 when it is left to protobuf-es. */
function eventSize(event: WatchEvent): number {
  if (event.$unknown !== undefined) return -1;
  const type = event.type as number;
  if (!Number.isInteger(type) || type < 0 || type > 0x7fffffff) return -1;
  const oldValue = valueFieldSize(event.oldValue);
  const newValue = valueFieldSize(event.newValue);
  const version = int64Size(event.version);
  const revision = int64Size(event.revision);
  const timestamp = int64Size(event.timestampMs);
  if (oldValue < 0 || newValue < 0 || version < 0 || revision < 0 || timestamp < 0) return -1;
  return (
    (type === 0 ? 0 : 1 + varintSize(type)) +
    optionalStringFieldSize(event.identifier) +
    optionalStringFieldSize(event.id) +
    optionalStringFieldSize(event.name) +
    optionalStringFieldSize(event.variableType) +
    oldValue +
    newValue +
    (version === 0 ? 0 : 1 + version) +
    (revision === 0 ? 0 : 1 + revision) +
    optionalStringFieldSize(event.source) +
    optionalStringFieldSize(event.metadataJson) +
    (timestamp === 0 ? 0 : 1 + timestamp)
  );
}

/** A Value field's size with its tag and length (0 when absent; an empty Value is written), or -1. */
function valueFieldSize(value: Value | undefined): number {
  if (value === undefined) return 0;
  const size = valueMessageSize(value);
  return size < 0 ? -1 : 1 + varintSize(size) + size;
}

function writeEvent(buffer: Buffer, start: number, event: WatchEvent): number {
  let offset = start;
  if (event.type !== 0) {
    buffer[offset++] = 0x08;
    offset = writeVarint(buffer, offset, event.type);
  }
  if (event.identifier !== "") offset = writeStringField(buffer, offset, 0x12, event.identifier);
  if (event.id !== "") offset = writeStringField(buffer, offset, 0x1a, event.id);
  if (event.name !== "") offset = writeStringField(buffer, offset, 0x22, event.name);
  if (event.variableType !== "") offset = writeStringField(buffer, offset, 0x2a, event.variableType);
  if (event.oldValue !== undefined) offset = writeValueField(buffer, offset, 0x32, event.oldValue);
  if (event.newValue !== undefined) offset = writeValueField(buffer, offset, 0x3a, event.newValue);
  if (event.version !== 0n) {
    buffer[offset++] = 0x40;
    offset = writeInt64(buffer, offset, event.version);
  }
  if (event.revision !== 0n) {
    buffer[offset++] = 0x48;
    offset = writeInt64(buffer, offset, event.revision);
  }
  if (event.source !== "") offset = writeStringField(buffer, offset, 0x52, event.source);
  if (event.metadataJson !== "") offset = writeStringField(buffer, offset, 0x5a, event.metadataJson);
  if (event.timestampMs !== 0n) {
    buffer[offset++] = 0x60;
    offset = writeInt64(buffer, offset, event.timestampMs);
  }
  return offset;
}

function writeValueField(buffer: Buffer, start: number, tag: number, value: Value): number {
  buffer[start] = tag;
  const offset = writeVarint(buffer, start + 1, valueMessageSize(value));
  return writeValue(buffer, offset, value);
}

function optionalStringFieldSize(value: string): number {
  return value === "" ? 0 : stringFieldSize(value);
}
