// The hand-written decoders of SetVariable's and SetVariables' requests (set-request-decoding.ts,
// the direct path's replacement for protobuf-es's fromBinary on the writes) held to fromBinary:
// over generated requests (every value kind, int64s across their range, NaN, -0 and
// infinities, multi-byte and lone-surrogate strings, expected_version present or not, zero
// included) each decodes to what fromBinary returns — and is decoded, not left to fromBinary,
// whenever a client could have written it with int64s in [0, 2^49); over two encodings
// concatenated (fields out of order, repeated fields) and over mutated bytes (a byte changed,
// cut short, bytes inserted) it is never a message fromBinary would not return.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryMutation,
  arbitrarySetVariable,
  arbitrarySetVariables,
  arbitraryValueKind,
  ENCODING_RUNS,
  ENCODING_SEED,
  expectAgreement,
  mutate,
  readByHand,
} from "@statebridge/grpc-wire/testing";
import { SetVariableRequestSchema, SetVariablesRequestSchema, type Value } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSetVariableRequest, decodeSetVariablesRequest } from "../src/set-request-decoding.js";

const value = fc.option(
  arbitraryValueKind.map((kind) => ({ kind })),
  { nil: undefined },
);
const setVariable = arbitrarySetVariable(value);
const setVariables = arbitrarySetVariables(value);

function bytesOf(schema: DescMessage, parts: readonly object[]): Uint8Array {
  return Buffer.concat(parts.map((part) => toBinary(schema, create(schema, part as never))));
}

/** Whether a value is one the decoders read themselves (int64s in [0, 2^49)). */
function ordinaryValue(generated: { kind: Value["kind"] } | undefined): boolean {
  const kind = generated?.kind;
  if (kind?.case === "integerValue") return readByHand(kind.value);
  if (kind?.case === "tensorValue") return kind.value.shape.every(readByHand);
  return true;
}

describe("the hand-written write request decoders read what protobuf-es reads", () => {
  it("SetVariableRequest: generated requests decode to fromBinary's message", () => {
    fc.assert(
      fc.property(setVariable, (request) => {
        const bytes = bytesOf(SetVariableRequestSchema, [request]);
        const decoded = decodeSetVariableRequest(bytes);
        if (ordinaryValue(request.value) && readByHand(request.expectedVersion ?? 0n)) {
          expect(decoded).toBeDefined();
        }
        expectAgreement(decoded, () => fromBinary(SetVariableRequestSchema, bytes));
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("SetVariablesRequest: generated requests decode to fromBinary's message", () => {
    fc.assert(
      fc.property(setVariables, (request) => {
        const bytes = bytesOf(SetVariablesRequestSchema, [request]);
        const decoded = decodeSetVariablesRequest(bytes);
        if ((request.updates ?? []).every((update) => ordinaryValue(update.value))) {
          expect(decoded).toBeDefined();
        }
        expectAgreement(decoded, () => fromBinary(SetVariablesRequestSchema, bytes));
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("two encodings concatenated (fields out of order, singular fields twice): never another message", () => {
    fc.assert(
      fc.property(
        fc.array(setVariable, { minLength: 2, maxLength: 2 }),
        fc.array(setVariables, { minLength: 2, maxLength: 2 }),
        (one, many) => {
          const oneBytes = bytesOf(SetVariableRequestSchema, one);
          expectAgreement(decodeSetVariableRequest(oneBytes), () =>
            fromBinary(SetVariableRequestSchema, oneBytes),
          );
          const manyBytes = bytesOf(SetVariablesRequestSchema, many);
          expectAgreement(decodeSetVariablesRequest(manyBytes), () =>
            fromBinary(SetVariablesRequestSchema, manyBytes),
          );
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(setVariable, setVariables, arbitraryMutation, (one, many, change) => {
        const oneBytes = mutate(bytesOf(SetVariableRequestSchema, [one]), change);
        expectAgreement(decodeSetVariableRequest(oneBytes), () =>
          fromBinary(SetVariableRequestSchema, oneBytes),
        );
        const manyBytes = mutate(bytesOf(SetVariablesRequestSchema, [many]), change);
        expectAgreement(decodeSetVariablesRequest(manyBytes), () =>
          fromBinary(SetVariablesRequestSchema, manyBytes),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("leaves a value given twice (which protobuf-es merges) and a Value with two members to fromBinary", () => {
    const twice = bytesOf(SetVariableRequestSchema, [
      { value: { kind: { case: "floatValue", value: 1 } } },
      { value: { kind: { case: undefined } } },
    ]);
    expect(decodeSetVariableRequest(twice)).toBeUndefined();
    expect(fromBinary(SetVariableRequestSchema, twice).value?.kind).toEqual({ case: "floatValue", value: 1 });
    // Value { float_value: 1, boolean_value: true }: protobuf-es keeps the last member.
    const twoMembers = new Uint8Array([0x1a, 11, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x20, 1]);
    expect(decodeSetVariableRequest(twoMembers)).toBeUndefined();
    expect(fromBinary(SetVariableRequestSchema, twoMembers).value?.kind).toEqual({
      case: "booleanValue",
      value: true,
    });
  });
});
