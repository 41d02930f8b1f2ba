import { describe, expect, it } from "vitest";
import type { Constraints, VariableType, VariableValue } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectSameValue, expectStateError, preview } from "./support.js";

/** One constraint spec, with values at and inside its bounds and values outside them. */
interface ConstraintCase {
  readonly label: string;
  readonly type: VariableType;
  readonly constraints: Constraints;
  /** Accepted: at the bounds and inside them. */
  readonly inside: readonly unknown[];
  /** Refused with constraint_violation. */
  readonly outside: readonly unknown[];
}

const tensor = (shape: number[]) => ({
  shape,
  data: new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1),
});

/** Every constraint of the design, at, inside and outside its bounds. */
export const CONSTRAINT_CASES: readonly ConstraintCase[] = [
  {
    label: "float min/max",
    type: "float",
    constraints: { min: -1.5, max: 2 },
    inside: [-1.5, 2, 0, 1.999],
    outside: [-1.5000001, 2.0000001, -100, 1e300],
  },
  {
    label: "float min/max are skipped by NaN and ±Infinity",
    type: "float",
    constraints: { min: 0, max: 1 },
    inside: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 1],
    outside: [-0.5, 1.5],
  },
  {
    label: "float min only",
    type: "float",
    constraints: { min: 0 },
    inside: [0, 1e308],
    outside: [-Number.MIN_VALUE, -1],
  },
  {
    label: "integer min/max",
    type: "integer",
    constraints: { min: -3, max: 10 },
    inside: [-3, 10, 0, 9],
    outside: [-4, 11, Number.MAX_SAFE_INTEGER],
  },
  {
    label: "integer max only",
    type: "integer",
    constraints: { max: 0 },
    inside: [0, Number.MIN_SAFE_INTEGER],
    outside: [1],
  },
  {
    label: "string minLength/maxLength count code points, not UTF-16 units",
    type: "string",
    constraints: { minLength: 2, maxLength: 3 },
    inside: ["ab", "abc", "😀😀", "😀😀😀", "é日"],
    outside: ["a", "😀", "abcd", "😀😀😀😀", ""],
  },
  {
    label: "string maxLength 0",
    type: "string",
    constraints: { maxLength: 0 },
    inside: [""],
    outside: ["a"],
  },
  {
    label: "string pattern, anchored",
    type: "string",
    constraints: { pattern: "^[a-z]+$" },
    inside: ["abc", "z"],
    outside: ["abc1", "ABC", "", "ab c"],
  },
  {
    label: "string pattern is anchored only as written",
    type: "string",
    constraints: { pattern: "b+" },
    inside: ["abc", "bbb", "xbx"],
    outside: ["ac", ""],
  },
  {
    label: "string pattern is an ECMAScript regex with the u flag",
    type: "string",
    constraints: { pattern: "^\\p{L}{2}$" },
    inside: ["ét", "日本", "ab"],
    outside: ["a1", "abc", "😀😀"],
  },
  {
    label: "string enum",
    type: "string",
    constraints: { enum: ["low", "medium", "high"] },
    inside: ["low", "high"],
    outside: ["Low", "none", ""],
  },
  {
    label: "choice choices",
    type: "choice",
    constraints: { choices: ["gpt-4", "claude"] },
    inside: ["gpt-4", "claude"],
    outside: ["gpt-3", "Claude", ""],
  },
  {
    label: "module choices",
    type: "module",
    constraints: { choices: ["dspy.Predict", "dspy.ChainOfThought"] },
    inside: ["dspy.Predict", "dspy.ChainOfThought"],
    outside: ["dspy.ReAct", "dspy"],
  },
  {
    label: "module pattern",
    type: "module",
    constraints: { pattern: "^dspy\\." },
    inside: ["dspy.Predict"],
    outside: ["torch.nn", "dspy"],
  },
  {
    label: "module namespace: the namespace itself and names under it",
    type: "module",
    constraints: { namespace: "dspy" },
    inside: ["dspy", "dspy.Predict", "dspy.teleprompt.BootstrapFewShot"],
    outside: ["dspyx.Predict", "other.dspy", "torch"],
  },
  {
    label: "embedding dimensions",
    type: "embedding",
    constraints: { dimensions: 3 },
    inside: [[1, 2, 3], Float32Array.from([1, 2, 3])],
    outside: [[1, 2], [1, 2, 3, 4], []],
  },
  {
    label: "embedding dimensions 0",
    type: "embedding",
    constraints: { dimensions: 0 },
    inside: [[]],
    outside: [[1]],
  },
  {
    label: "tensor shape",
    type: "tensor",
    constraints: { shape: [2, 3] },
    inside: [tensor([2, 3])],
    outside: [tensor([3, 2]), tensor([6]), tensor([2, 3, 1]), tensor([1, 2, 3])],
  },
  {
    label: "tensor shape [] (a scalar)",
    type: "tensor",
    constraints: { shape: [] },
    inside: [{ shape: [], data: [5] }],
    outside: [tensor([1])],
  },
];

/** Constraint specs that `register()` refuses with invalid_value. */
export const MALFORMED_CONSTRAINTS: ReadonlyArray<readonly [string, VariableType, unknown, unknown]> = [
  ["min above max", "float", { min: 2, max: 1 }, 1.5],
  ["a non-finite min", "float", { min: Number.NaN }, 1],
  ["a string max", "float", { max: "10" }, 1],
  ["a fractional integer bound", "integer", { min: 0.5 }, 1],
  ["minLength above maxLength", "string", { minLength: 5, maxLength: 2 }, "abc"],
  ["a negative maxLength", "string", { maxLength: -1 }, ""],
  ["a fractional minLength", "string", { minLength: 1.5 }, "ab"],
  ["a pattern that does not compile", "string", { pattern: "(" }, "x"],
  ["an unterminated class", "string", { pattern: "[a-" }, "x"],
  ["a pattern that is not a string", "string", { pattern: 5 }, "x"],
  ["an empty enum", "string", { enum: [] }, "x"],
  ["an enum with a non-string", "string", { enum: ["a", 1] }, "a"],
  ["empty choices", "choice", { choices: [] }, "x"],
  ["duplicate choices", "choice", { choices: ["a", "a"] }, "a"],
  ["no choices for a choice", "choice", {}, "x"],
  ["choices that are not an array", "choice", { choices: "a,b" }, "a"],
  ["a module choice that is not a module name", "module", { choices: ["not a module"] }, "os"],
  ["an empty namespace", "module", { namespace: "" }, "os"],
  ["a negative dimensions", "embedding", { dimensions: -1 }, []],
  ["fractional dimensions", "embedding", { dimensions: 2.5 }, [1, 2]],
  ["a negative shape dimension", "tensor", { shape: [2, -1] }, { shape: [0], data: [] }],
  ["a shape that is not an array", "tensor", { shape: 4 }, { shape: [4], data: [1, 2, 3, 4] }],
  ["an unknown constraint key", "float", { minimum: 0 }, 1],
  ["a key of another type", "string", { min: 0 }, "x"],
  ["any constraint on a boolean", "boolean", { enum: ["true"] }, true],
  ["constraints that are not an object", "integer", [1, 2], 1],
];

/**
 * Registers the constraint tests: each constraint at, inside and outside its bounds, at
 * register and at set; malformed constraint specs refused at register.
 */
export function describeConstraints(context: ComplianceContext): void {
  describe("constraints", () => {
    for (const item of CONSTRAINT_CASES) {
      it(`${item.label}: ${item.inside.map(preview).join(", ")} accepted; ${item.outside.map(preview).join(", ")} refused with constraint_violation`, async (test) => {
        const provider = await context.open(test);
        const [first, ...rest] = item.inside;
        const registered = await provider.register("target", item.type, first, {
          constraints: item.constraints,
        });
        expect({ ...(await provider.getVariable("target")).constraints }).toEqual(item.constraints);
        let index = 0;
        for (const value of item.inside) {
          await provider.register(`inside_${index++}`, item.type, value, { constraints: item.constraints });
        }
        let version = registered.version;
        for (const value of rest) {
          expect(await provider.set("target", value), `set(${preview(value)})`).toBe(++version);
        }
        const before = await provider.getVariable("target");
        for (const value of item.outside) {
          await expectStateError(
            () => provider.register("outside", item.type, value, { constraints: item.constraints }),
            "constraint_violation",
            `register(${preview(value)})`,
          );
          await expectStateError(
            () => provider.set("target", value),
            "constraint_violation",
            `set(${preview(value)})`,
          );
        }
        await expectStateError(
          () => provider.get("outside"),
          "not_found",
          "a variable whose initial value was refused",
        );
        const after = await provider.getVariable("target");
        expectSameValue(after.value, before.value as VariableValue, "the value after refused sets");
        expect(after.version).toBe(before.version);
      });
    }

    it("constraints are checked by updateMany() as by set()", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1, { constraints: { min: 0, max: 10 } });
      await expectStateError(
        () => provider.updateMany(new Map([["a", 11]]), { atomic: true }),
        "constraint_violation",
      );
      const error = await expectStateError(
        () => provider.updateMany(new Map([["a", -1]])),
        "partial_failure",
      );
      expect(error.failures.get("a")?.code).toBe("constraint_violation");
      expect(await provider.get("a")).toBe(1);
    });

    it("a constraint_violation message names the variable and the value", async (test) => {
      const provider = await context.open(test);
      await provider.register("temperature", "float", 1, { constraints: { max: 2 } });
      const error = await expectStateError(() => provider.set("temperature", 3.5), "constraint_violation");
      expect(error.message).toContain("temperature");
      expect(error.message).toContain("3.5");
    });

    it("malformed constraint specs are refused at register() with invalid_value", async (test) => {
      const provider = await context.open(test);
      for (const [label, type, constraints, initial] of MALFORMED_CONSTRAINTS) {
        await expectStateError(
          () => provider.register("target", type, initial, { constraints: constraints as Constraints }),
          "invalid_value",
          `register() with ${label}`,
        );
      }
      expect(await provider.list()).toEqual([]);
    });
  });
}
