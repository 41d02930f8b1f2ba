// The hand-written codecs of the writes (set-encoding.ts, the unary caller's replacement for
// protobuf-es on SetVariable and SetVariables) held to protobuf-es. Requests: byte-equal to
// toBinary(schema, create(schema, request)) over generated init shapes, as the provider builds
// them (tensor shapes as numbers, no $typeName) and as messages: every value kind, int64s
// across their whole range, NaN, -0 and infinities, multi-byte, surrogate-pair and
// lone-surrogate strings, empty fields, expected_version absent or zero. Responses: decoded to
// what fromBinary returns — and decoded, not left to it, whenever a server wrote them with
// int64s in [0, 2^49) — and over mutated bytes never a message fromBinary would not return.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryInt64,
  arbitraryMutation,
  arbitrarySetVariable,
  arbitrarySetVariables,
  arbitraryText,
  arbitraryValueKind,
  ENCODING_RUNS,
  ENCODING_SEED,
  envelopeOf,
  expectAgreement,
  mutate,
  readByHand,
} from "@statebridge/grpc-wire/testing";
import {
  SetVariableRequestSchema,
  SetVariableResponseSchema,
  SetVariablesRequestSchema,
  SetVariablesResponseSchema,
} from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeSetVariableResponse,
  decodeSetVariablesResponse,
  encodeSetVariableRequestEnvelope,
  encodeSetVariablesRequestEnvelope,
} from "./set-encoding.js";

/** A tensor as `toWireValue` gives it: shape as numbers, no $typeName. */
const providerTensor = fc
  .record({
    shape: fc.array(fc.oneof(fc.nat(), fc.maxSafeNat()), { maxLength: 4 }),
    data: fc.uint8Array({ maxLength: 200 }),
  })
  .map((value) => ({ case: "tensorValue" as const, value }));
const value = fc.option(
  fc.oneof(arbitraryValueKind, providerTensor).map((kind) => ({ kind })),
  { nil: undefined },
);
const setVariable = arbitrarySetVariable(value);
const setVariables = arbitrarySetVariables(value);
const setVariableResponse = fc
  .record({ version: arbitraryInt64, revision: arbitraryInt64 }, { requiredKeys: [] })
  .map((init) => toBinary(SetVariableResponseSchema, create(SetVariableResponseSchema, init)));
const setVariablesResponse = fc
  .tuple(arbitraryInt64, fc.array(fc.tuple(arbitraryText, arbitraryInt64), { maxLength: 8 }))
  .map(([revision, entries]) => {
    const message = create(SetVariablesResponseSchema, { revision });
    const versions = Object.create(null) as Record<string, bigint>;
    for (const [key, version] of entries) versions[key] = version;
    message.versions = versions;
    return toBinary(SetVariablesResponseSchema, message);
  });

describe("the hand-written write request encoders write what protobuf-es writes", () => {
  it("SetVariableRequest, for generated requests", () => {
    fc.assert(
      fc.property(setVariable, (request) => {
        const expected = envelopeOf(
          toBinary(SetVariableRequestSchema, create(SetVariableRequestSchema, request as never)),
        );
        expect(encodeSetVariableRequestEnvelope(request)).toEqual(expected);
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("SetVariablesRequest, for generated requests", () => {
    fc.assert(
      fc.property(setVariables, (request) => {
        const expected = envelopeOf(
          toBinary(SetVariablesRequestSchema, create(SetVariablesRequestSchema, request as never)),
        );
        expect(encodeSetVariablesRequestEnvelope(request)).toEqual(expected);
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("leaves requests with unknown fields or fields of unexpected types to protobuf-es", () => {
    const withUnknown = create(SetVariableRequestSchema, { sessionId: "s", identifier: "x" });
    withUnknown.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
    expect(encodeSetVariableRequestEnvelope(withUnknown)).toBeUndefined();
    expect(encodeSetVariableRequestEnvelope({ identifier: 1 })).toBeUndefined();
    expect(encodeSetVariableRequestEnvelope({ expectedVersion: 1.5 })).toBeUndefined();
    expect(encodeSetVariableRequestEnvelope({ expectedVersion: 2n ** 63n })).toBeUndefined();
    expect(
      encodeSetVariableRequestEnvelope({ value: { kind: { case: "floatValue", value: "1" } } }),
    ).toBeUndefined();
    expect(
      encodeSetVariableRequestEnvelope({
        value: { kind: { case: "tensorValue", value: { shape: [1.5], data: new Uint8Array(8) } } },
      }),
    ).toBeUndefined();
    expect(encodeSetVariablesRequestEnvelope({ updates: [{ identifier: 2 }] })).toBeUndefined();
    expect(encodeSetVariablesRequestEnvelope({ atomic: 1 })).toBeUndefined();
  });
});

describe("the hand-written write response decoders read what protobuf-es reads", () => {
  it("SetVariableResponse, for generated messages: decoded whenever a server could have written them", () => {
    fc.assert(
      fc.property(setVariableResponse, (bytes) => {
        const decoded = decodeSetVariableResponse(bytes);
        const expected = fromBinary(SetVariableResponseSchema, bytes);
        if (readByHand(expected.version) && readByHand(expected.revision)) expect(decoded).toBeDefined();
        expectAgreement(decoded, () => expected);
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("SetVariablesResponse, for generated messages: decoded whenever a server could have written them", () => {
    fc.assert(
      fc.property(setVariablesResponse, (bytes) => {
        const decoded = decodeSetVariablesResponse(bytes);
        const expected = fromBinary(SetVariablesResponseSchema, bytes);
        // A `__proto__` entry is not an entry of fromBinary's plain object: left to it.
        if (
          readByHand(expected.revision) &&
          !Buffer.from(bytes).includes("__proto__") &&
          Object.values(expected.versions).every(readByHand)
        ) {
          expect(decoded).toBeDefined();
        }
        expectAgreement(decoded, () => expected);
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 2 },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(setVariableResponse, setVariablesResponse, arbitraryMutation, (one, many, change) => {
        const mutatedOne = mutate(one, change);
        expectAgreement(decodeSetVariableResponse(mutatedOne), () =>
          fromBinary(SetVariableResponseSchema, mutatedOne),
        );
        const mutatedMany = mutate(many, change);
        expectAgreement(decodeSetVariablesResponse(mutatedMany), () =>
          fromBinary(SetVariablesResponseSchema, mutatedMany),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);
});
