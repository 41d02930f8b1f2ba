// The hand-written request encoders of GetVariable and GetVariables (request-encoding.ts, the
// unary caller's replacement for protobuf-es on its hottest calls) held byte-equal to
// toBinary(schema, create(schema, request)) over generated requests: ASCII, multi-byte
// strings, surrogate pairs and lone surrogates, empty strings (skipped for session_id and
// identifier, written in identifiers), missing fields, long strings. STATEBRIDGE_ENCODING_SEED
// and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, toBinary } from "@bufbuild/protobuf";
import { arbitraryText, ENCODING_RUNS, ENCODING_SEED, envelopeOf } from "@statebridge/grpc-wire/testing";
import { GetVariableRequestSchema, GetVariablesRequestSchema } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeGetVariableRequestEnvelope, encodeGetVariablesRequestEnvelope } from "./request-encoding.js";

describe("the hand-written request encoders write what protobuf-es writes", () => {
  it("GetVariableRequest, for generated requests", () => {
    fc.assert(
      fc.property(
        fc.record({ sessionId: arbitraryText, identifier: arbitraryText }, { requiredKeys: [] }),
        (request) => {
          const expected = envelopeOf(
            toBinary(GetVariableRequestSchema, create(GetVariableRequestSchema, request)),
          );
          expect(encodeGetVariableRequestEnvelope(request)).toEqual(expected);
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("GetVariablesRequest, for generated requests", () => {
    fc.assert(
      fc.property(
        fc.record(
          { sessionId: arbitraryText, identifiers: fc.array(arbitraryText, { maxLength: 20 }) },
          { requiredKeys: [] },
        ),
        (request) => {
          const expected = envelopeOf(
            toBinary(GetVariablesRequestSchema, create(GetVariablesRequestSchema, request)),
          );
          expect(encodeGetVariablesRequestEnvelope(request)).toEqual(expected);
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("leaves a request with unknown fields, or fields that are not strings, to protobuf-es", () => {
    const withUnknown = create(GetVariableRequestSchema, { sessionId: "s", identifier: "x" });
    withUnknown.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
    expect(encodeGetVariableRequestEnvelope(withUnknown)).toBeUndefined();
    expect(encodeGetVariableRequestEnvelope({ sessionId: 1 })).toBeUndefined();
    expect(encodeGetVariablesRequestEnvelope({ identifiers: ["a", 2] })).toBeUndefined();
  });
});
