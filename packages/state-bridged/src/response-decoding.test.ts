// The hand-written decoders of GetVariable's and GetVariables' responses (response-decoding.ts,
// the unary caller's replacement for protobuf-es's fromBinary on its hottest calls) held to
// fromBinary: over generated messages (every value kind, int64s across their range, NaN, -0
// and infinities, multi-byte and lone-surrogate strings, map keys such as `__proto__`) each
// decodes to what fromBinary returns, or is left to it (undefined); over the same bytes
// mutated (a byte changed, cut short, bytes inserted) the decoder never returns anything
// fromBinary would not. STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  GetVariableResponseSchema,
  GetVariablesResponseSchema,
  type Value,
  type Variable,
  VariableSchema,
} from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGetVariableResponse, decodeGetVariablesResponse } from "./response-decoding.js";

const SEED = Number(process.env.STATEBRIDGE_ENCODING_SEED ?? 20_261_202);
const RUNS = Number(process.env.STATEBRIDGE_ENCODING_RUNS ?? 2_000);

const text = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "grapheme-ascii", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary-ascii", minLength: 60, maxLength: 200 }),
  fc.constantFrom("\ud800", "a\udc00b", "\ud83d\ude00", "\ufeffbom", "é", "__proto__", "12", "-1"),
);
const int64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 48n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, -1n, 127n, 128n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 63n - 1n),
);
const valueKind: fc.Arbitrary<Value["kind"]> = fc.oneof(
  fc.constant({ case: undefined }),
  fc.double().map((value) => ({ case: "floatValue" as const, value })),
  fc
    .constantFrom(0, -0, Number.NaN, Number.NEGATIVE_INFINITY)
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
const getVariableBytes = fc
  .option(variable, { nil: undefined })
  .map((generated) =>
    toBinary(
      GetVariableResponseSchema,
      create(GetVariableResponseSchema, generated === undefined ? {} : { variable: generated }),
    ),
  );
const getVariablesBytes = fc
  .tuple(fc.array(fc.tuple(text, variable), { maxLength: 8 }), fc.array(text, { maxLength: 4 }))
  .map(([entries, missing]) => {
    const message = create(GetVariablesResponseSchema, { missing });
    const variables = Object.create(null) as Record<string, Variable>;
    for (const [key, value] of entries) variables[key] = value;
    message.variables = variables;
    return toBinary(GetVariablesResponseSchema, message);
  });

/** Changes one byte, cuts the bytes short, or inserts bytes, at generated places. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
  }),
);
function mutate(bytes: Uint8Array, change: MutationShape): Uint8Array {
  if (bytes.byteLength === 0) return new Uint8Array(change.kind === "insert" ? change.bytes : []);
  const at = change.at % bytes.byteLength;
  if (change.kind === "set") {
    const copy = bytes.slice();
    copy[at] = change.byte;
    return copy;
  }
  if (change.kind === "cut") return bytes.slice(0, at);
  const copy = new Uint8Array(bytes.byteLength + change.bytes.byteLength);
  copy.set(bytes.subarray(0, at));
  copy.set(change.bytes, at);
  copy.set(bytes.subarray(at), at + change.bytes.byteLength);
  return copy;
}
type MutationShape =
  | { kind: "set"; at: number; byte: number }
  | { kind: "cut"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };

/** The decoder agrees with fromBinary: the same message, or undefined (left to fromBinary). */
function expectAgreement(decoded: object | undefined, reference: () => object): void {
  let expected: object | undefined;
  try {
    expected = reference();
  } catch {
    expect(decoded).toBeUndefined();
    return;
  }
  if (decoded !== undefined) expect(decoded).toEqual(expected);
}

describe("the hand-written response decoders read what protobuf-es reads", () => {
  it("GetVariableResponse, for generated messages: decoded whenever a server could have written them", () => {
    fc.assert(
      fc.property(getVariableBytes, (bytes) => {
        const decoded = decodeGetVariableResponse(bytes);
        const expected = fromBinary(GetVariableResponseSchema, bytes);
        const variable = expected.variable;
        const ordinary =
          variable === undefined ||
          [variable.version, variable.createdAtMs, variable.updatedAtMs].every(
            (n) => n >= 0n && n < 2n ** 49n,
          );
        if (
          ordinary &&
          variable?.value?.kind.case !== "integerValue" &&
          variable?.value?.kind.case !== "tensorValue"
        ) {
          expect(decoded).toBeDefined();
        }
        expectAgreement(decoded, () => expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);

  it("GetVariablesResponse, for generated messages", () => {
    fc.assert(
      fc.property(getVariablesBytes, (bytes) => {
        expectAgreement(decodeGetVariablesResponse(bytes), () =>
          fromBinary(GetVariablesResponseSchema, bytes),
        );
      }),
      { seed: SEED, numRuns: RUNS / 4 },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(getVariableBytes, getVariablesBytes, mutation, (one, many, change) => {
        const mutatedOne = mutate(one, change);
        expectAgreement(decodeGetVariableResponse(mutatedOne), () =>
          fromBinary(GetVariableResponseSchema, mutatedOne),
        );
        const mutatedMany = mutate(many, change);
        expectAgreement(decodeGetVariablesResponse(mutatedMany), () =>
          fromBinary(GetVariablesResponseSchema, mutatedMany),
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);
});
