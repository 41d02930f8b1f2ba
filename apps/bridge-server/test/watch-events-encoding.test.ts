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
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeWatchEventsMessage } from "../src/watch-events-encoding.js";

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

  it("leaves a message with unknown fields or an int64 that is not a bigint to protobuf-es", () => {
    const withUnknown = create(WatchEventsSchema, { revision: 1n, events: [{ identifier: "x" }] });
    (withUnknown.events[0] as WatchEvents["events"][number]).$unknown = [
      { no: 99, wireType: 0, data: new Uint8Array([1]) },
    ];
    expect(encodeWatchEventsMessage(withUnknown)).toBeUndefined();
    const numberRevision = create(WatchEventsSchema, { revision: 1n });
    (numberRevision as { revision: unknown }).revision = 1;
    expect(encodeWatchEventsMessage(numberRevision)).toBeUndefined();
  });
});
