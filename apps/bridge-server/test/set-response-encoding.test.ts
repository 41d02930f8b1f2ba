// The hand-written encoders of SetVariable's and SetVariables' responses (set-response-encoding.ts,
// the direct path's replacement for protobuf-es's writer on the writes) held byte-equal to
// toBinary(schema, create(schema, result)) over generated results: int64s across their whole
// range (zero, negatives, beyond 2^53), the init shape a method returns and the message
// create() builds, version maps with keys such as `__proto__`, integer-like keys (which objects
// order first), empty and multi-byte keys, and zero versions (a map entry writes its zero value).
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryInt64,
  arbitraryText,
  ENCODING_RUNS,
  ENCODING_SEED,
  envelopeOf,
} from "@statebridge/grpc-wire/testing";
import { SetVariableResponseSchema, SetVariablesResponseSchema } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeSetVariableResponseEnvelope,
  encodeSetVariablesResponseEnvelope,
} from "../src/set-response-encoding.js";
import { createMapObject } from "../src/wire-conversion.js";

describe("the hand-written write response encoders write what protobuf-es writes", () => {
  it("SetVariableResponse, for generated results and messages", () => {
    fc.assert(
      fc.property(
        fc.record({ version: arbitraryInt64, revision: arbitraryInt64 }, { requiredKeys: [] }),
        (result) => {
          const message = create(SetVariableResponseSchema, result);
          const expected = envelopeOf(toBinary(SetVariableResponseSchema, message));
          expect(encodeSetVariableResponseEnvelope(result)).toEqual(expected);
          expect(encodeSetVariableResponseEnvelope(message)).toEqual(expected);
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("SetVariablesResponse, for generated version maps (prototype-less, as the server builds them)", () => {
    fc.assert(
      fc.property(
        arbitraryInt64,
        fc.array(fc.tuple(arbitraryText, arbitraryInt64), { maxLength: 12 }),
        (revision, entries) => {
          const message = create(SetVariablesResponseSchema, { revision });
          const versions = createMapObject<bigint>();
          for (const [key, version] of entries) versions[key] = version;
          message.versions = versions;
          const expected = envelopeOf(toBinary(SetVariablesResponseSchema, message));
          expect(encodeSetVariablesResponseEnvelope(message)).toEqual(expected);
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("leaves results with unknown fields or int64s that are not whole numbers in range to protobuf-es", () => {
    const withUnknown = create(SetVariableResponseSchema, { version: 1n });
    withUnknown.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
    expect(encodeSetVariableResponseEnvelope(withUnknown)).toBeUndefined();
    expect(encodeSetVariableResponseEnvelope({ version: 1.5 as never })).toBeUndefined();
    expect(encodeSetVariableResponseEnvelope({ revision: 2n ** 64n })).toBeUndefined();
    expect(encodeSetVariablesResponseEnvelope({ versions: { a: (2 ** 53) as never } })).toBeUndefined();
  });
});
