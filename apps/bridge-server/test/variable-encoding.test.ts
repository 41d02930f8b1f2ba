// The hand-written encoders of GetVariable's and GetVariables' responses (variable-encoding.ts,
// the direct path's replacement for protobuf-es's writer on its hottest calls) held byte-equal
// to protobuf-es's toBinary over generated messages: every value kind, int64s across their
// whole range (negatives, zero, beyond 2^53), doubles with NaN, -0 and infinities, strings with
// multi-byte characters, surrogate pairs and lone surrogates, empty fields, map keys such as
// `__proto__` and integer-like keys (which objects order first), and missing identifiers.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryText,
  arbitraryVariable,
  ENCODING_RUNS,
  ENCODING_SEED,
  envelopeOf,
} from "@statebridge/grpc-wire/testing";
import {
  GetVariableResponseSchema,
  GetVariablesResponseSchema,
  type Variable,
  VariableSchema,
} from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeGetVariableResponseEnvelope,
  encodeGetVariablesResponseEnvelope,
} from "../src/variable-encoding.js";
import { createMapObject, toProtoValueKind, toProtoVariable } from "../src/wire-conversion.js";

describe("the hand-written response encoders write what protobuf-es writes", () => {
  it("GetVariableResponse, for generated variables", () => {
    fc.assert(
      fc.property(fc.option(arbitraryVariable, { nil: undefined }), (generated) => {
        const message = create(
          GetVariableResponseSchema,
          generated === undefined ? {} : { variable: generated },
        );
        const expected = envelopeOf(toBinary(GetVariableResponseSchema, message));
        expect(encodeGetVariableResponseEnvelope(message)).toEqual(expected);
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("GetVariablesResponse, for generated maps (prototype-less, as the server builds them) and missing lists", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbitraryText, arbitraryVariable), { maxLength: 12 }),
        fc.array(arbitraryText, { maxLength: 5 }),
        (entries, missing) => {
          const message = create(GetVariablesResponseSchema, { missing });
          const variables = createMapObject<Variable>();
          for (const [key, value] of entries) variables[key] = value;
          message.variables = variables;
          const expected = envelopeOf(toBinary(GetVariablesResponseSchema, message));
          expect(encodeGetVariablesResponseEnvelope(message)).toEqual(expected);
        },
      ),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 4 },
    );
  }, 120_000);

  it("leaves a message with unknown fields to protobuf-es", () => {
    const message = create(GetVariableResponseSchema, { variable: create(VariableSchema, { name: "x" }) });
    (message.variable as Variable).$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    expect(encodeGetVariableResponseEnvelope(message)).toBeUndefined();
  });
});

describe("toProtoVariable", () => {
  // It builds the message literally rather than through create(): held to create() here.
  it.each([
    ["float", 0.5],
    ["integer", -3],
    ["string", "é\ud83d\ude00"],
    ["boolean", true],
    ["embedding", new Float64Array([1, -0, Number.NaN])],
    ["tensor", { shape: [2, 1], data: new Float64Array([1, 2]) }],
  ] as const)("builds what create(VariableSchema, …) builds, for a %s", (type, value) => {
    const stored = {
      id: "v-1",
      name: "x",
      type,
      value,
      constraints: type === "float" ? { min: 0 } : {},
      metadata: { note: "n" },
      version: 3,
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_001,
      source: "test",
    } as unknown as Parameters<typeof toProtoVariable>[0];
    const expected = create(VariableSchema, {
      id: "v-1",
      name: "x",
      type,
      value: { kind: toProtoValueKind(stored.type, stored.value) },
      constraintsJson: type === "float" ? JSON.stringify({ min: 0 }) : "",
      metadataJson: JSON.stringify({ note: "n" }),
      version: 3n,
      createdAtMs: 1_700_000_000_000n,
      updatedAtMs: 1_700_000_000_001n,
      source: "test",
    });
    const built = toProtoVariable(stored);
    expect(built).toEqual(expected);
    expect(toBinary(VariableSchema, built)).toEqual(toBinary(VariableSchema, expected));
  });
});
