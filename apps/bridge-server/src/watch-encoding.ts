import type { MessageInitShape } from "@bufbuild/protobuf";
import { type WatchEventsSchema, WatchEventType } from "@statebridge/proto";
import type { WatchEventBatch } from "@statebridge/session-store";
import type { WatchEvent } from "@statebridge/state-provider";
import { int64, jsonFieldOf, toProtoValueKind } from "./wire-conversion.js";

const EVENT_TYPES: Readonly<Record<WatchEvent["type"], WatchEventType>> = {
  initial: WatchEventType.INITIAL,
  value_change: WatchEventType.VALUE_CHANGE,
  deleted: WatchEventType.DELETED,
  resync: WatchEventType.RESYNC,
};

/** Encodes the events of one revision for a watch stream. */
export function encodeWatchEvents(batch: WatchEventBatch): MessageInitShape<typeof WatchEventsSchema> {
  return { revision: int64(batch.revision), events: batch.events.map(encodeWatchEvent) };
}

function encodeWatchEvent(event: WatchEvent) {
  return {
    type: EVENT_TYPES[event.type],
    identifier: event.identifier,
    id: event.id,
    name: event.name,
    variableType: event.variableType,
    oldValue:
      event.oldValue === undefined
        ? undefined
        : { kind: toProtoValueKind(event.variableType, event.oldValue) },
    newValue:
      event.newValue === undefined
        ? undefined
        : { kind: toProtoValueKind(event.variableType, event.newValue) },
    version: int64(event.version),
    revision: int64(event.revision),
    source: event.source,
    metadataJson: jsonFieldOf(event.metadata),
    timestampMs: int64(event.timestamp),
  };
}
