// The hand-written encoders of GetVariable's and GetVariables' responses (variable-encoding.ts,
// the direct path's replacement for protobuf-es's writer on its hottest calls) held byte-equal
// to protobuf-es's toBinary over generated messages: every value kind, int64s across their
// whole range (negatives, zero, beyond 2^53), doubles with NaN, -0 and infinities, strings with
// multi-byte characters, surrogate pairs and lone surrogates, empty fields, map keys such as
// `__proto__` and integer-like keys (which objects order first), and missing identifiers.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  GetVariableResponseSchema,
  GetVariablesResponseSchema,
  type Value,
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

const SEED = Number(process.env.STATEBRIDGE_ENCODING_SEED ?? 20_261_202);
const RUNS = Number(process.env.STATEBRIDGE_ENCODING_RUNS ?? 2_000);

const text = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "grapheme-ascii", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary-ascii", minLength: 60, maxLength: 200 }),
  fc.constantFrom("\ud800", "a\udc00b", "\ud83d\ude00", "é", "€", "__proto__", "12", "0", "-1"),
);
const int64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 2n ** 53n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-1n, 2n ** 63n - 1n, -(2n ** 63n), 127n, 128n, 2n ** 53n + 1n),
);
const valueKind: fc.Arbitrary<Value["kind"]> = fc.oneof(
  fc.constant({ case: undefined }),
  fc.double().map((value) => ({ case: "floatValue" as const, value })),
  fc
    .constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY)
    .map((value) => ({ case: "floatValue" as const, value })),
  int64.map((value) => ({ case: "integerValue" as const, value })),
  text.map((value) => ({ case: "stringValue" as const, value })),
  fc.boolean().map((value) => ({ case: "booleanValue" as const, value })),
  text.map((value) => ({ case: "choiceValue" as const, value })),
  text.map((value) => ({ case: "moduleValue" as const, value })),
  fc.uint8Array({ maxLength: 300 }).map((value) => ({ case: "embeddingValue" as const, value })),
  fc
    .record({ shape: fc.array(int64, { maxLength: 4 }), data: fc.uint8Array({ maxLength: 200 }) })
    .map((value) => ({
      case: "tensorValue" as const,
      value: { $typeName: "statebridge.v1.TensorValue" as const, ...value },
    })),
);
const variable: fc.Arbitrary<Variable> = fc
  .record({
    id: text,
    name: text,
    type: text,
    value: fc.option(valueKind, { nil: undefined }),
    constraintsJson: text,
    metadataJson: text,
    version: int64,
    createdAtMs: int64,
    updatedAtMs: int64,
    source: text,
  })
  .map(({ value, ...fields }) =>
    create(VariableSchema, {
      ...fields,
      ...(value === undefined ? {} : { value: { kind: value } as never }),
    }),
  );

/** What the direct path sends for protobuf-es's encoding: one uncompressed envelope. */
function envelopeOf(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.byteLength);
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, 5);
  return framed;
}

describe("the hand-written response encoders write what protobuf-es writes", () => {
  it("GetVariableResponse, for generated variables", () => {
    fc.assert(
      fc.property(fc.option(variable, { nil: undefined }), (generated) => {
        const message = create(
          GetVariableResponseSchema,
          generated === undefined ? {} : { variable: generated },
        );
        const expected = envelopeOf(toBinary(GetVariableResponseSchema, message));
        expect(encodeGetVariableResponseEnvelope(message)).toEqual(expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);

  it("GetVariablesResponse, for generated maps (prototype-less, as the server builds them) and missing lists", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(text, variable), { maxLength: 12 }),
        fc.array(text, { maxLength: 5 }),
        (entries, missing) => {
          const message = create(GetVariablesResponseSchema, { missing });
          const variables = createMapObject<Variable>();
          for (const [key, value] of entries) variables[key] = value;
          message.variables = variables;
          const expected = envelopeOf(toBinary(GetVariablesResponseSchema, message));
          expect(encodeGetVariablesResponseEnvelope(message)).toEqual(expected);
        },
      ),
      { seed: SEED, numRuns: RUNS / 4 },
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
