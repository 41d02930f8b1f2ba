import { describe, expect, it } from "vitest";
import type { StateErrorCode } from "../errors.js";
import type { StateProvider } from "../provider.js";
import { valuesEqual } from "../type-system.js";
import type { Constraints, VariableType, VariableValue } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectSameValue, expectStateError, preview } from "./support.js";

/** An input a type accepts and the value it is stored as. */
interface Accepted {
  readonly label: string;
  /** A function, so that each use gets its own fresh input (typed arrays, objects). */
  readonly input: () => unknown;
  readonly stored: VariableValue;
}

/** An input a type refuses, and the code it is refused with. */
interface Refused {
  readonly label: string;
  readonly input: () => unknown;
  readonly code: StateErrorCode;
}

/** What the suite checks for one type. */
interface TypeCases {
  readonly type: VariableType;
  /** Constraints every variable of this type in these tests gets (choice needs some). */
  readonly constraints?: Constraints;
  /** A valid value that is none of the accepted ones, to register before each set. */
  readonly start: unknown;
  readonly accepted: readonly Accepted[];
  readonly refused: readonly Refused[];
}

const float32 = (values: readonly number[]) => Float32Array.from(values);

/** The type table of the design, executable. */
export const TYPE_CASES: readonly TypeCases[] = [
  {
    type: "float",
    start: 42.5,
    accepted: [
      { label: "a fraction", input: () => 0.7, stored: 0.7 },
      { label: "an integer becomes a float", input: () => 3, stored: 3 },
      { label: "NaN", input: () => Number.NaN, stored: Number.NaN },
      { label: "Infinity", input: () => Number.POSITIVE_INFINITY, stored: Number.POSITIVE_INFINITY },
      { label: "-Infinity", input: () => Number.NEGATIVE_INFINITY, stored: Number.NEGATIVE_INFINITY },
      { label: "-0 stays -0", input: () => -0, stored: -0 },
      { label: "the largest double", input: () => Number.MAX_VALUE, stored: Number.MAX_VALUE },
      { label: "the smallest subnormal", input: () => Number.MIN_VALUE, stored: Number.MIN_VALUE },
      { label: "an integer beyond 2^53", input: () => 2 ** 60, stored: 2 ** 60 },
      { label: "a bigint within the safe range", input: () => -7n, stored: -7 },
    ],
    refused: [
      { label: "a numeric string", input: () => "1.5", code: "invalid_value" },
      { label: "a boolean", input: () => true, code: "invalid_value" },
      { label: "a bigint beyond the safe range", input: () => 2n ** 53n, code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
      { label: "undefined", input: () => undefined, code: "invalid_value" },
      { label: "an array", input: () => [1], code: "invalid_value" },
      { label: "an object", input: () => ({ value: 1 }), code: "invalid_value" },
    ],
  },
  {
    type: "integer",
    start: 42,
    accepted: [
      { label: "a whole number", input: () => 7, stored: 7 },
      { label: "3.0 becomes 3", input: () => 3.0, stored: 3 },
      { label: "a negative number", input: () => -12, stored: -12 },
      { label: "-0 becomes 0", input: () => -0, stored: 0 },
      { label: "2^53-1", input: () => Number.MAX_SAFE_INTEGER, stored: Number.MAX_SAFE_INTEGER },
      { label: "-(2^53-1)", input: () => Number.MIN_SAFE_INTEGER, stored: Number.MIN_SAFE_INTEGER },
      { label: "a bigint within the safe range", input: () => 123n, stored: 123 },
    ],
    refused: [
      { label: "a fraction", input: () => 3.5, code: "invalid_value" },
      { label: "NaN", input: () => Number.NaN, code: "invalid_value" },
      { label: "Infinity", input: () => Number.POSITIVE_INFINITY, code: "invalid_value" },
      { label: "2^53, outside the safe range", input: () => 2 ** 53, code: "invalid_value" },
      { label: "-(2^53)", input: () => -(2 ** 53), code: "invalid_value" },
      { label: "a bigint of 2^53", input: () => 2n ** 53n, code: "invalid_value" },
      { label: "a numeric string", input: () => "3", code: "invalid_value" },
      { label: "a boolean", input: () => true, code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
    ],
  },
  {
    type: "string",
    start: "start",
    accepted: [
      { label: "text", input: () => "hello", stored: "hello" },
      { label: "the empty string", input: () => "", stored: "" },
      { label: "unicode and emoji", input: () => "température 🚀 日本", stored: "température 🚀 日本" },
      { label: "a NUL character", input: () => "a\u0000b", stored: "a\u0000b" },
      { label: "a long string", input: () => "z".repeat(100_000), stored: "z".repeat(100_000) },
    ],
    refused: [
      { label: "a number", input: () => 1, code: "invalid_value" },
      { label: "a boolean", input: () => false, code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
      { label: "a lone surrogate", input: () => "bad\ud800", code: "invalid_value" },
      { label: "an array of characters", input: () => ["a"], code: "invalid_value" },
    ],
  },
  {
    type: "boolean",
    start: false,
    accepted: [
      { label: "true", input: () => true, stored: true },
      { label: "false", input: () => false, stored: false },
    ],
    refused: [
      { label: 'the string "true"', input: () => "true", code: "invalid_value" },
      { label: 'the string "false"', input: () => "false", code: "invalid_value" },
      { label: "1", input: () => 1, code: "invalid_value" },
      { label: "0", input: () => 0, code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
    ],
  },
  {
    type: "choice",
    constraints: { choices: ["red", "green", "blue", "🚀"] },
    start: "blue",
    accepted: [
      { label: "a listed choice", input: () => "red", stored: "red" },
      { label: "another listed choice", input: () => "green", stored: "green" },
      { label: "an emoji choice", input: () => "🚀", stored: "🚀" },
    ],
    refused: [
      { label: "an unlisted string", input: () => "purple", code: "constraint_violation" },
      { label: "a listed choice in another case", input: () => "Red", code: "constraint_violation" },
      { label: "a number", input: () => 1, code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
    ],
  },
  {
    type: "module",
    start: "os",
    accepted: [
      { label: "a dotted class name", input: () => "dspy.Predict", stored: "dspy.Predict" },
      { label: "a single identifier", input: () => "json", stored: "json" },
      {
        label: "underscores and digits",
        input: () => "_private.mod_2.Class3",
        stored: "_private.mod_2.Class3",
      },
    ],
    refused: [
      { label: "the empty string", input: () => "", code: "invalid_value" },
      { label: "a leading digit", input: () => "1module", code: "invalid_value" },
      { label: "an empty segment", input: () => "a..b", code: "invalid_value" },
      { label: "a trailing dot", input: () => "a.", code: "invalid_value" },
      { label: "a space", input: () => "my module", code: "invalid_value" },
      { label: "a number", input: () => 5, code: "invalid_value" },
    ],
  },
  {
    type: "embedding",
    start: [9, 9],
    accepted: [
      { label: "a number[]", input: () => [0.1, -2, 3.5], stored: [0.1, -2, 3.5] },
      {
        label: "a Float32Array becomes a plain number[] of the same float32 values",
        input: () => float32([0.1, 0.5, -1.25]),
        stored: Array.from(float32([0.1, 0.5, -1.25])),
      },
      { label: "a Float64Array", input: () => Float64Array.from([1e-300, 2]), stored: [1e-300, 2] },
      { label: "an empty array", input: () => [], stored: [] },
      { label: "-0 elements stay -0", input: () => [-0, 0], stored: [-0, 0] },
    ],
    refused: [
      { label: "a NaN element", input: () => [1, Number.NaN], code: "invalid_value" },
      { label: "an Infinity element", input: () => [Number.POSITIVE_INFINITY], code: "invalid_value" },
      { label: "a string element", input: () => [1, "2"], code: "invalid_value" },
      { label: "a number", input: () => 1, code: "invalid_value" },
      { label: "a string", input: () => "[1,2]", code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
      { label: "an Int32Array", input: () => Int32Array.from([1, 2]), code: "invalid_value" },
    ],
  },
  {
    type: "tensor",
    start: { shape: [1], data: [9] },
    accepted: [
      {
        label: "a 2x3 tensor",
        input: () => ({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }),
        stored: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
      },
      {
        label: "a scalar (shape [])",
        input: () => ({ shape: [], data: [7] }),
        stored: { shape: [], data: [7] },
      },
      {
        label: "an empty tensor",
        input: () => ({ shape: [0, 4], data: [] }),
        stored: { shape: [0, 4], data: [] },
      },
      {
        label: "NaN, ±Infinity and -0 in data",
        input: () => ({
          shape: [4],
          data: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
        }),
        stored: { shape: [4], data: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0] },
      },
      {
        label: "Float64Array data",
        input: () => ({ shape: [2], data: Float64Array.from([0.5, 1.5]) }),
        stored: { shape: [2], data: [0.5, 1.5] },
      },
    ],
    refused: [
      {
        label: "data longer than the shape",
        input: () => ({ shape: [2], data: [1, 2, 3] }),
        code: "invalid_value",
      },
      {
        label: "data shorter than the shape",
        input: () => ({ shape: [2, 2], data: [1] }),
        code: "invalid_value",
      },
      { label: "a negative dimension", input: () => ({ shape: [-1], data: [] }), code: "invalid_value" },
      { label: "a fractional dimension", input: () => ({ shape: [1.5], data: [1] }), code: "invalid_value" },
      { label: "no data", input: () => ({ shape: [1] }), code: "invalid_value" },
      { label: "no shape", input: () => ({ data: [1] }), code: "invalid_value" },
      { label: "a string element", input: () => ({ shape: [1], data: ["1"] }), code: "invalid_value" },
      { label: "a plain array", input: () => [1, 2], code: "invalid_value" },
      { label: "null", input: () => null, code: "invalid_value" },
    ],
  },
];

async function expectStored(
  provider: StateProvider,
  name: string,
  expected: VariableValue,
  label: string,
): Promise<void> {
  const value = await provider.get(name);
  if (!valuesEqual(value, expected)) {
    expect.fail(`${label}: stored ${preview(value)}, expected ${preview(expected)}`);
  }
  if (typeof expected === "object") {
    expect(Object.isFrozen(value), `${label}: the stored value is frozen`).toBe(true);
    if (Array.isArray(expected)) {
      expect(Array.isArray(value), `${label}: the stored value is a plain array`).toBe(true);
    }
  }
}

/**
 * Registers the tests of the eight types: every accepted input and the value it is stored
 * as, every refused input and its code, at register and at set.
 */
export function describeTypes(context: ComplianceContext): void {
  describe("types: accepted inputs, stored values, refused inputs", () => {
    for (const cases of TYPE_CASES) {
      const options = cases.constraints === undefined ? {} : { constraints: cases.constraints };

      it(`${cases.type}: register() and set() accept every input of the type table and store it normalized`, async (test) => {
        const provider = await context.open(test);
        let index = 0;
        for (const item of cases.accepted) {
          const name = `registered_${index++}`;
          await provider.register(name, cases.type, item.input(), options);
          await expectStored(provider, name, item.stored, `register(${item.label})`);
        }
        await provider.register("target", cases.type, cases.start, options);
        let version = 0;
        for (const item of cases.accepted) {
          expect(
            await provider.set("target", item.input()),
            `set(${item.label}) returns the next version`,
          ).toBe(++version);
          await expectStored(provider, "target", item.stored, `set(${item.label})`);
          expectSameValue(
            (await provider.getVariable("target")).value,
            item.stored,
            `getVariable after set(${item.label})`,
          );
        }
      });

      it(`${cases.type}: register() and set() refuse the wrong inputs with their codes, and nothing changes`, async (test) => {
        const provider = await context.open(test);
        await provider.register("target", cases.type, cases.start, options);
        const before = await provider.getVariable("target");
        for (const item of cases.refused) {
          await expectStateError(
            () => provider.register("refused", cases.type, item.input(), options),
            item.code,
            `register(${item.label})`,
          );
          await expectStateError(
            () => provider.get("refused"),
            "not_found",
            `get() after register(${item.label}) failed`,
          );
          await expectStateError(() => provider.set("target", item.input()), item.code, `set(${item.label})`);
        }
        const after = await provider.getVariable("target");
        expectSameValue(after.value, before.value, "the value after the refused sets");
        expect(after.version).toBe(before.version);
        expect(after.updatedAt).toBe(before.updatedAt);
      });
    }

    it("an unknown type is refused with invalid_type and nothing is registered", async (test) => {
      const provider = await context.open(test);
      for (const type of ["double", "", "Float", "list", "object"]) {
        await expectStateError(
          () => provider.register("a", type as VariableType, 1),
          "invalid_type",
          `register() with type ${JSON.stringify(type)}`,
        );
      }
      await expectStateError(
        () => provider.register("a", 7 as unknown as VariableType, 1),
        "invalid_type",
        "a numeric type",
      );
      expect(await provider.list()).toEqual([]);
    });

    it("a value keeps its variable's type: set() of another type's value is refused with invalid_value", async (test) => {
      const provider = await context.open(test);
      await provider.register("count", "integer", 1);
      await provider.register("label", "string", "x");
      await provider.register("flag", "boolean", true);
      await expectStateError(() => provider.set("count", "2"), "invalid_value");
      await expectStateError(() => provider.set("label", 2), "invalid_value");
      await expectStateError(() => provider.set("flag", "true"), "invalid_value");
      expect((await provider.getVariable("count")).type).toBe("integer");
      expect(await provider.get("count")).toBe(1);
      expect(await provider.get("label")).toBe("x");
      expect(await provider.get("flag")).toBe(true);
    });
  });
}
