// The hand-written WatchEvents encoder (watch-events-encoding.ts, which serializes each
// change's events once for every watch on the direct path) held byte-equal to protobuf-es's
// toBinary over generated messages: every event type, every value kind in old and new values
// (absent, empty, NaN, -0, infinities, tensors), int64s across their whole range (zero,
// negatives, beyond 2^53), strings with multi-byte characters, surrogate pairs and lone
// surrogates, empty fields, and batches of none to many events.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryInt64,
  arbitraryText,
  arbitraryValueKind,
  ENCODING_RUNS,
  ENCODING_SEED,
} from "@statebridge/grpc-wire/testing";
import { type WatchEvents, WatchEventsSchema, WatchEventType } from "@statebridge/proto";
import type { WatchEventBatch } from "@statebridge/session-store";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeWatchEvents } from "../src/watch-encoding.js";
import { encodeWatchEventsMessage } from "../src/watch-events-encoding.js";
import { toProtoValueKind } from "../src/wire-conversion.js";

const value = fc.option(
  arbitraryValueKind.map((kind) => ({ kind })),
  { nil: undefined },
);
const event = fc.record(
  {
    type: fc.constantFrom(...Object.values(WatchEventType).filter((type) => typeof type === "number")),
    identifier: arbitraryText,
    id: arbitraryText,
    name: arbitraryText,
    variableType: arbitraryText,
    oldValue: value,
    newValue: value,
    version: arbitraryInt64,
    revision: arbitraryInt64,
    source: arbitraryText,
    metadataJson: arbitraryText,
    timestampMs: arbitraryInt64,
  },
  { requiredKeys: [] },
);
const message = fc
  .record({ revision: arbitraryInt64, events: fc.array(event, { maxLength: 6 }) }, { requiredKeys: [] })
  .map((init) => create(WatchEventsSchema, init as never) as WatchEvents);

describe("the hand-written WatchEvents encoder writes what protobuf-es writes", () => {
  it("WatchEvents, for generated messages", () => {
    fc.assert(
      fc.property(message, (generated) => {
        expect(encodeWatchEventsMessage(generated)).toEqual(
          Buffer.from(toBinary(WatchEventsSchema, generated)),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("leaves a message with unknown fields or an int64 that is not a whole number in range to protobuf-es", () => {
    const withUnknown = create(WatchEventsSchema, { revision: 1n, events: [{ identifier: "x" }] });
    (withUnknown.events[0] as WatchEvents["events"][number]).$unknown = [
      { no: 99, wireType: 0, data: new Uint8Array([1]) },
    ];
    expect(encodeWatchEventsMessage(withUnknown)).toBeUndefined();
    const numberRevision = create(WatchEventsSchema, { revision: 1n });
    (numberRevision as { revision: unknown }).revision = 1.5;
    expect(encodeWatchEventsMessage(numberRevision)).toBeUndefined();
  });
});

describe("encodeWatchEvents", () => {
  // It builds the message literally rather than through create(): held to create() here.
  const values = [
    ["float", 0.5, -0],
    ["integer", -3, 2 ** 53 - 1],
    ["string", "é\ud83d\ude00", ""],
    ["boolean", true, false],
    ["choice", "low", "high"],
    ["module", "m.a", "m.b"],
    ["embedding", new Float64Array([1, -0, Number.NaN]), new Float64Array([])],
    ["tensor", { shape: [2, 1], data: new Float64Array([1, 2]) }, { shape: [0], data: new Float64Array([]) }],
  ] as const;
  const types = ["initial", "value_change", "deleted", "resync"] as const;
  it.each(values)(
    "builds what create(WatchEventsSchema, …) builds, for a %s",
    (variableType, oldValue, newValue) => {
      const events = types.map((type, index) => ({
        type,
        identifier: `x${index}`,
        id: "v-1",
        name: "x",
        variableType,
        ...(type === "initial" || type === "resync" ? {} : { oldValue }),
        ...(type === "deleted" ? {} : { newValue }),
        version: index,
        revision: 9,
        source: index === 0 ? "" : "writer",
        metadata: index === 0 ? {} : { unit: "°C" },
        timestamp: 1_700_000_000_000,
      }));
      const batch = { revision: 9, bytes: 1, events } as unknown as WatchEventBatch;
      const expected = create(WatchEventsSchema, {
        revision: 9n,
        events: events.map((event) => ({
          type: WatchEventType[event.type.toUpperCase() as keyof typeof WatchEventType],
          identifier: event.identifier,
          id: event.id,
          name: event.name,
          variableType: event.variableType,
          oldValue:
            "oldValue" in event
              ? { kind: toProtoValueKind(variableType, event.oldValue as never) }
              : undefined,
          newValue:
            "newValue" in event
              ? { kind: toProtoValueKind(variableType, event.newValue as never) }
              : undefined,
          version: BigInt(event.version),
          revision: 9n,
          source: event.source,
          metadataJson: Object.keys(event.metadata).length === 0 ? "" : JSON.stringify(event.metadata),
          timestampMs: 1_700_000_000_000n,
        })),
      });
      const built = encodeWatchEvents(batch);
      expect(built).toEqual(expected);
      expect(toBinary(WatchEventsSchema, built)).toEqual(toBinary(WatchEventsSchema, expected));
      expect(encodeWatchEventsMessage(built)).toEqual(Buffer.from(toBinary(WatchEventsSchema, expected)));
    },
  );
});
