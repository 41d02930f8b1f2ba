import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@statebridge/grpc-wire";
import {
  WatchEventsSchema,
  WatchEventType,
  WatchStreamResponseSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import type { WatchEventBatch } from "@statebridge/session-store";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeWatchEvents, frameWatchResponse } from "./watch-encoding.js";

// The direct path frames events messages by hand around bytes serialized once per revision:
// this holds those frames byte-equal to protobuf-es's encoding of the same message.

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 200 }));
const int64 = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n });
const value = fc.oneof(
  fc.constant(undefined),
  fc.double().map((floatValue) => ({ kind: { case: "floatValue" as const, value: floatValue } })),
  fc
    .bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n })
    .map((integer) => ({ kind: { case: "integerValue" as const, value: integer } })),
  text.map((string) => ({ kind: { case: "stringValue" as const, value: string } })),
  fc
    .uint8Array({ maxLength: 20_000 })
    .map((bytes) => ({ kind: { case: "embeddingValue" as const, value: bytes } })),
);
const wireEvent = fc.record({
  type: fc.constantFrom(...Object.values(WatchEventType).filter((type) => typeof type === "number")),
  identifier: text,
  id: text,
  name: text,
  variableType: text,
  oldValue: value,
  newValue: value,
  version: int64,
  revision: int64,
  source: text,
  metadataJson: text,
  timestampMs: int64,
});
/** Events of every size: none, small, and past the one- and two-byte length prefixes. */
const events = fc
  .record({ revision: int64, events: fc.array(wireEvent, { maxLength: 6 }) })
  .map((init) => create(WatchEventsSchema, init));
/** Watch ids: empty (left out), ASCII, multi-byte UTF-8, and longer than 127 bytes. */
const watchId = fc.oneof(
  fc.constantFrom("", "x".repeat(127), "x".repeat(128), "é".repeat(64)),
  text,
  fc.string({ minLength: 130, maxLength: 400 }),
);

function protobufEs(schema: DescMessage, response: object): Buffer {
  return encodeEnvelope(toBinary(schema, create(schema, response as never)));
}

describe("frameWatchResponse", () => {
  it("frames a WatchStream events message byte-equal to protobuf-es", () => {
    fc.assert(
      fc.property(watchId, events, (id, message) => {
        const response = { watchId: id, kind: { case: "events" as const, value: message } };
        expect(frameWatchResponse(WatchStreamResponseSchema, response)).toEqual(
          protobufEs(WatchStreamResponseSchema, response),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("frames a shared WatchStream events message (also_watch_ids) byte-equal to protobuf-es", () => {
    fc.assert(
      fc.property(watchId, events, fc.array(watchId, { maxLength: 8 }), (id, message, alsoWatchIds) => {
        const response = { watchId: id, kind: { case: "events" as const, value: message }, alsoWatchIds };
        expect(frameWatchResponse(WatchStreamResponseSchema, response)).toEqual(
          protobufEs(WatchStreamResponseSchema, response),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("frames a WatchVariables events message byte-equal to protobuf-es", () => {
    fc.assert(
      fc.property(events, (message) => {
        const response = { kind: { case: "events" as const, value: message } };
        expect(frameWatchResponse(WatchVariablesResponseSchema, response)).toEqual(
          protobufEs(WatchVariablesResponseSchema, response),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("frames every other message, and events given as a plain object, as protobuf-es does", () => {
    fc.assert(
      fc.property(watchId, int64, text, (id, revision, incarnation) => {
        const responses: MessageInitShape<typeof WatchStreamResponseSchema>[] = [
          { watchId: id, kind: { case: "heartbeat", value: { revision, incarnation } } },
          { watchId: id, kind: { case: "ended", value: {} } },
          { watchId: id, kind: { case: "events", value: { revision, events: [] } } },
        ];
        for (const response of responses) {
          expect(frameWatchResponse(WatchStreamResponseSchema, response)).toEqual(
            protobufEs(WatchStreamResponseSchema, response),
          );
        }
      }),
      { numRuns: 100 },
    );
  });

  it("serializes a batch's events once, however many watches it reaches", () => {
    const batch: WatchEventBatch = {
      revision: 7,
      bytes: 300,
      events: [
        {
          type: "value_change",
          identifier: "temperature",
          id: "v1",
          name: "temperature",
          variableType: "float",
          oldValue: 0.5,
          newValue: 0.7,
          version: 3,
          revision: 7,
          source: "writer",
          metadata: { unit: "°C" },
          timestamp: 1_700_000_000_000,
        },
      ],
    };
    const message = encodeWatchEvents(batch);
    expect(encodeWatchEvents(batch)).toBe(message);
    for (const id of ["w1", "w2", "w300"]) {
      const response = { watchId: id, kind: { case: "events" as const, value: message } };
      expect(frameWatchResponse(WatchStreamResponseSchema, response)).toEqual(
        protobufEs(WatchStreamResponseSchema, response),
      );
    }
  });
});
