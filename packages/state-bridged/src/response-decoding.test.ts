// The hand-written decoders of GetVariable's and GetVariables' responses (response-decoding.ts,
// the unary caller's replacement for protobuf-es's fromBinary on its hottest calls) held to
// fromBinary: over generated messages (every value kind, int64s across their range, NaN, -0
// and infinities, multi-byte and lone-surrogate strings, map keys such as `__proto__`) each
// decodes to what fromBinary returns, or is left to it (undefined); over the same bytes
// mutated (a byte changed, cut short, bytes inserted) the decoder never returns anything
// fromBinary would not. STATEBRIDGE_ENCODING_SEED and STATEBRIDGE_ENCODING_RUNS explore further.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  arbitraryMutation,
  arbitraryText,
  arbitraryVariable,
  ENCODING_RUNS,
  ENCODING_SEED,
  expectAgreement,
  mutate,
} from "@statebridge/grpc-wire/testing";
import { GetVariableResponseSchema, GetVariablesResponseSchema, type Variable } from "@statebridge/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGetVariableResponse, decodeGetVariablesResponse } from "./response-decoding.js";

const getVariableBytes = fc
  .option(arbitraryVariable, { nil: undefined })
  .map((generated) =>
    toBinary(
      GetVariableResponseSchema,
      create(GetVariableResponseSchema, generated === undefined ? {} : { variable: generated }),
    ),
  );
const getVariablesBytes = fc
  .tuple(
    fc.array(fc.tuple(arbitraryText, arbitraryVariable), { maxLength: 8 }),
    fc.array(arbitraryText, { maxLength: 4 }),
  )
  .map(([entries, missing]) => {
    const message = create(GetVariablesResponseSchema, { missing });
    const variables = Object.create(null) as Record<string, Variable>;
    for (const [key, value] of entries) variables[key] = value;
    message.variables = variables;
    return toBinary(GetVariablesResponseSchema, message);
  });

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
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);

  it("GetVariablesResponse, for generated messages", () => {
    fc.assert(
      fc.property(getVariablesBytes, (bytes) => {
        expectAgreement(decodeGetVariablesResponse(bytes), () =>
          fromBinary(GetVariablesResponseSchema, bytes),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS / 4 },
    );
  }, 120_000);

  it("mutated bytes: never a message fromBinary would not return", () => {
    fc.assert(
      fc.property(getVariableBytes, getVariablesBytes, arbitraryMutation, (one, many, change) => {
        const mutatedOne = mutate(one, change);
        expectAgreement(decodeGetVariableResponse(mutatedOne), () =>
          fromBinary(GetVariableResponseSchema, mutatedOne),
        );
        const mutatedMany = mutate(many, change);
        expectAgreement(decodeGetVariablesResponse(mutatedMany), () =>
          fromBinary(GetVariablesResponseSchema, mutatedMany),
        );
      }),
      { seed: ENCODING_SEED, numRuns: ENCODING_RUNS },
    );
  }, 120_000);
});
