import {
  type Value as WireValue,
  type WatchEvent as WireWatchEvent,
  type WatchEvents as WireWatchEvents,
  WatchEventType as WireWatchEventType,
} from "@statebridge/proto";
import {
  decodeWireValue,
  isVariableType,
  type Metadata,
  StateError,
  type VariableType,
  type VariableValue,
  type WatchEvent,
  type WatchEventType,
  type WireValueKind,
} from "@statebridge/state-provider";

/** One revision's events as the consumer hands them on: an atomic batch stays together. */
export interface DecodedWatchEvents {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

const TYPE_OF_WIRE = new Map<WireWatchEventType, WatchEventType>([
  [WireWatchEventType.INITIAL, "initial"],
  [WireWatchEventType.VALUE_CHANGE, "value_change"],
  [WireWatchEventType.DELETED, "deleted"],
  [WireWatchEventType.RESYNC, "resync"],
]);

const EMPTY_METADATA: Metadata = Object.freeze({});

/**
 * Decodes one `WatchEvents` message into {@link WatchEvent}s. The server is trusted to send
 * normalized values, so values are decoded without re-validation (arrays and tensors come back
 * frozen, integers as numbers).
 * @throws `invalid_value` for an event of an unknown type or variable type, or malformed
 *   metadata: a peer speaking another version of the protocol, which retrying cannot fix.
 */
export function decodeWatchEvents(message: WireWatchEvents): DecodedWatchEvents {
  return { revision: Number(message.revision), events: watchEventsOf(message) };
}

/**
 * The events of `message` for one watch, as {@link decodeWatchEvents} decodes them. A message
 * shared by many watches (see `markSharedWatchEvents`) is decoded once; each watch gets copies
 * of the events, never the kept originals. Values are primitives or frozen and metadata is
 * frozen, so a shallow copy is as good as a decode of its own.
 */
export function watchEventsOf(message: WireWatchEvents): WatchEvent[] {
  const decoded = decodedOnce.get(message);
  if (decoded !== undefined) {
    const copies: WatchEvent[] = new Array(decoded.length);
    for (let index = 0; index < decoded.length; index++)
      copies[index] = { ...(decoded[index] as WatchEvent) };
    return copies;
  }
  const revision = Number(message.revision);
  const events = message.events.map((event) => decodeWatchEvent(event, revision));
  if (sharedMessages.has(message))
    decodedOnce.set(
      message,
      events.map((event) => ({ ...event })),
    );
  return events;
}

/**
 * Says that `message` is handed to several watches, so that {@link decodeWatchEvents} decodes
 * it once for all of them.
 */
export function markSharedWatchEvents(message: WireWatchEvents): void {
  sharedMessages.add(message);
}

const sharedMessages = new WeakSet<WireWatchEvents>();
const decodedOnce = new WeakMap<WireWatchEvents, readonly WatchEvent[]>();

/**
 * Decodes one wire event. `revision` is the enclosing message's revision, used when the event
 * itself carries none.
 */
export function decodeWatchEvent(event: WireWatchEvent, revision: number): WatchEvent {
  const type = TYPE_OF_WIRE.get(event.type);
  if (type === undefined) {
    throw new StateError(
      "invalid_value",
      `watch event for ${JSON.stringify(event.name)} has unknown type ${event.type}`,
    );
  }
  const variableType: string = event.variableType;
  if (!isVariableType(variableType)) {
    throw new StateError(
      "invalid_value",
      `watch event for ${JSON.stringify(event.name)} has unknown variable type ${JSON.stringify(variableType)}`,
    );
  }
  return {
    type,
    identifier: event.identifier,
    id: event.id,
    name: event.name,
    variableType: variableType as VariableType,
    oldValue: type === "initial" || type === "resync" ? undefined : decodeValue(event.oldValue),
    newValue: type === "deleted" ? undefined : decodeValue(event.newValue),
    version: Number(event.version),
    revision: event.revision === 0n ? revision : Number(event.revision),
    source: event.source,
    metadata: parseMetadata(event.metadataJson, event.name),
    timestamp: Number(event.timestampMs),
  };
}

/**
 * Decodes a wire value. The generated code carries int64 fields as bigint, tensor shapes
 * included, while the shared decoder takes numbers: shapes are converted first.
 */
function decodeValue(value: WireValue | undefined): VariableValue | undefined {
  const kind = value?.kind;
  if (kind?.case === "tensorValue") {
    return decodeWireValue({
      case: "tensorValue",
      value: { shape: kind.value.shape.map(Number), data: kind.value.data },
    });
  }
  return decodeWireValue(kind as WireValueKind | undefined);
}

function parseMetadata(json: string, name: string): Metadata {
  if (json === "") return EMPTY_METADATA;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (cause) {
    throw new StateError("invalid_value", `watch event for ${JSON.stringify(name)} has malformed metadata`, {
      cause,
    });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new StateError(
      "invalid_value",
      `watch event for ${JSON.stringify(name)} has metadata that is not an object`,
    );
  }
  return Object.freeze(parsed as Metadata);
}
