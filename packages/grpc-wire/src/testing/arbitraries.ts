import { create } from "@bufbuild/protobuf";
import { type Value, type Variable, VariableSchema } from "@statebridge/proto";
import fc from "fast-check";

/** The fast-check seed of the wire properties: `STATEBRIDGE_ENCODING_SEED`, default 20261202. */
export const ENCODING_SEED = Number(process.env.STATEBRIDGE_ENCODING_SEED ?? 20_261_202);
/** Runs of the wire properties: `STATEBRIDGE_ENCODING_RUNS`, default 2000. */
export const ENCODING_RUNS = Number(process.env.STATEBRIDGE_ENCODING_RUNS ?? 2_000);

/**
 * Strings a protobuf string field may carry: empty, ASCII, any code units (lone surrogates
 * included), graphemes, long ones, and edge cases a hand-written codec gets wrong: surrogate
 * pairs, a BOM, multi-byte characters, and map keys objects treat specially (`__proto__`,
 * integer-like keys, which objects order first).
 */
export const arbitraryText: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "grapheme-ascii", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary-ascii", minLength: 60, maxLength: 300 }),
  fc.constantFrom("\ud800", "a\udc00b", "\ud83d\ude00", "\ufeffbom", "é", "€", "__proto__", "12", "0", "-1"),
);

/**
 * int64s across their whole range: small ones (below 2^48, where a decoder may take a fast
 * path), up to 2^53, negatives, and the edges of each varint length and of 2^49 and 2^53.
 */
export const arbitraryInt64: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 48n }),
  fc.bigInt({ min: 0n, max: 2n ** 53n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(
    0n,
    -1n,
    127n,
    128n,
    2n ** 49n - 1n,
    2n ** 49n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
  ),
);

/** A `statebridge.v1.Value`'s kind: none, or each case, with NaN, -0 and both infinities. */
export const arbitraryValueKind: fc.Arbitrary<Value["kind"]> = fc.oneof(
  fc.constant({ case: undefined }),
  fc.double().map((value) => ({ case: "floatValue" as const, value })),
  fc
    .constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
    .map((value) => ({ case: "floatValue" as const, value })),
  arbitraryInt64.map((value) => ({ case: "integerValue" as const, value })),
  arbitraryText.map((value) => ({ case: "stringValue" as const, value })),
  fc.boolean().map((value) => ({ case: "booleanValue" as const, value })),
  arbitraryText.map((value) => ({ case: "choiceValue" as const, value })),
  arbitraryText.map((value) => ({ case: "moduleValue" as const, value })),
  fc.uint8Array({ maxLength: 300 }).map((value) => ({ case: "embeddingValue" as const, value })),
  fc
    .record({ shape: fc.array(arbitraryInt64, { maxLength: 4 }), data: fc.uint8Array({ maxLength: 200 }) })
    .map((value) => ({
      case: "tensorValue" as const,
      value: { $typeName: "statebridge.v1.TensorValue" as const, ...value },
    })),
);

/** A `statebridge.v1.Variable` with any field values, its value present or not. */
export const arbitraryVariable: fc.Arbitrary<Variable> = fc
  .record({
    id: arbitraryText,
    name: arbitraryText,
    type: arbitraryText,
    value: fc.option(arbitraryValueKind, { nil: undefined }),
    constraintsJson: arbitraryText,
    metadataJson: arbitraryText,
    version: arbitraryInt64,
    createdAtMs: arbitraryInt64,
    updatedAtMs: arbitraryInt64,
    source: arbitraryText,
  })
  .map(({ value, ...fields }) =>
    create(VariableSchema, {
      ...fields,
      ...(value === undefined ? {} : { value: { kind: value } as never }),
    }),
  );
