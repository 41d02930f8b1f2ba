// The hand-written decoders of GetVariable's and GetVariables' requests (request-decoding.ts,
// the direct path's replacement for protobuf-es's fromBinary on its hottest calls) held to
// fromBinary: over generated requests, over two encodings concatenated (fields out of order,
// a singular field twice: the last wins, repeated ones append), and over the same bytes
// mutated (a byte changed, cut short, bytes inserted), each decodes to what fromBinary returns
// or is left to it (undefined), and is never a message fromBinary would not return.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryMutation,
  arbitraryText,
  ENCODING_RUNS,
  ENCODING_SEED,
  expectAgreement,
  mutate,
} from "@statebridge/grpc-wire/testing";
import { GetVariableRequestSchema, GetVariablesRequestSchema } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGetVariableRequest, decodeGetVariablesRequest } from "../src/request-decoding.js";

const getVariable = fc.record({ sessionId: arbitraryText, identifier: arbitraryText }, { requiredKeys: [] });
const getVariables = fc.record(
  { sessionId: arbitraryText, identifiers: fc.array(arbitraryText, { maxLength: 12 }) },
  { requiredKeys: [] },
);

function bytesOf(schema: DescMessage, parts: readonly object[]): Uint8Array {
  return Buffer.concat(parts.map((part) => toBinary(schema, create(schema, part as never))));
}

describe("the hand-written request decoders read what protobuf-es reads", () => {
  it("generated requests, one encoding or two concatenated, decode to fromBinary's message", () => {
    fc.assert(
      fc.property(
        fc.array(getVariable, { minLength: 1, maxLength: 2 }),
        fc.array(getVariables, { minLength: 1, maxLength: 2 }),
        (one, many) => {
          const oneBytes = bytesOf(GetVariableRequestSchema, one);
          expect(decodeGetVariableRequest(oneBytes)).toEqual(fromBinary(GetVariableRequestSchema, oneBytes));
          const manyBytes = bytesOf(GetVariablesRequestSchema, many);
          expect(decodeGetVariablesRequest(manyBytes)).toEqual(
            fromBinary(GetVariablesRequestSchema, manyBytes),
          );
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(getVariable, getVariables, arbitraryMutation, (one, many, change) => {
        const oneBytes = mutate(bytesOf(GetVariableRequestSchema, [one]), change);
        expectAgreement(decodeGetVariableRequest(oneBytes), () =>
          fromBinary(GetVariableRequestSchema, oneBytes),
        );
        const manyBytes = mutate(bytesOf(GetVariablesRequestSchema, [many]), change);
        expectAgreement(decodeGetVariablesRequest(manyBytes), () =>
          fromBinary(GetVariablesRequestSchema, manyBytes),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);
});
