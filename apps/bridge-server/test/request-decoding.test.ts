// The hand-written decoders of GetVariable's and GetVariables' requests (request-decoding.ts,
// the direct path's replacement for protobuf-es's fromBinary on its hottest calls) held to
// fromBinary: over generated requests, over two encodings concatenated (fields out of order,
// a singular field twice: the last wins, repeated ones append), and over the same bytes
// mutated (a byte changed, cut short, bytes inserted), each decodes to what fromBinary returns
// or is left to it (undefined), and is never a message fromBinary would not return.
// STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetVariableRequestSchema, GetVariablesRequestSchema } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGetVariableRequest, decodeGetVariablesRequest } from "../src/request-decoding.js";

const SEED = Number(process.env.STATEBRIDGE_ENCODING_SEED ?? 20_261_202);
const RUNS = Number(process.env.STATEBRIDGE_ENCODING_RUNS ?? 2_000);

const text = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "grapheme-ascii", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary-ascii", minLength: 60, maxLength: 300 }),
  fc.constantFrom("\ud800", "\ud83d\ude00", "\ufeffbom", "é"),
);
const getVariable = fc.record({ sessionId: text, identifier: text }, { requiredKeys: [] });
const getVariables = fc.record(
  { sessionId: text, identifiers: fc.array(text, { maxLength: 12 }) },
  { requiredKeys: [] },
);

function bytesOf(schema: DescMessage, parts: readonly object[]): Uint8Array {
  return Buffer.concat(parts.map((part) => toBinary(schema, create(schema, part as never))));
}

type Mutation =
  | { kind: "set"; at: number; byte: number }
  | { kind: "cut"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
  }),
);
function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  if (bytes.byteLength === 0) return change.kind === "insert" ? change.bytes : bytes;
  const at = change.at % bytes.byteLength;
  if (change.kind === "set") {
    const copy = bytes.slice();
    copy[at] = change.byte;
    return copy;
  }
  if (change.kind === "cut") return bytes.slice(0, at);
  return Buffer.concat([bytes.subarray(0, at), change.bytes, bytes.subarray(at)]);
}

/** The decoder agrees with fromBinary: the same message, or undefined (left to fromBinary). */
function expectAgreement(decoded: object | undefined, schema: DescMessage, bytes: Uint8Array): void {
  let expected: object;
  try {
    expected = fromBinary(schema, bytes);
  } catch {
    expect(decoded).toBeUndefined();
    return;
  }
  if (decoded !== undefined) expect(decoded).toEqual(expected);
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
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(getVariable, getVariables, mutation, (one, many, change) => {
        const oneBytes = mutate(bytesOf(GetVariableRequestSchema, [one]), change);
        expectAgreement(decodeGetVariableRequest(oneBytes), GetVariableRequestSchema, oneBytes);
        const manyBytes = mutate(bytesOf(GetVariablesRequestSchema, [many]), change);
        expectAgreement(decodeGetVariablesRequest(manyBytes), GetVariablesRequestSchema, manyBytes);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);
});
