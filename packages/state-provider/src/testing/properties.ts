import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConstraints } from "../constraints.js";
import { isStateError, type StateErrorCode } from "../errors.js";
import type { StateProvider } from "../provider.js";
import { normalizeValue, valuesEqual } from "../type-system.js";
import type { Constraints, VariableType, VariableValue } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, preview } from "./support.js";

/** Values of the wrong kind for most types. */
const stray: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.constantFrom("true", "1", "1.5", "NaN", ""),
  fc.double(),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
  fc.array(fc.double(), { maxLength: 4 }),
  fc.record({
    shape: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }),
    data: fc.array(fc.double(), { maxLength: 6 }),
  }),
);

const moduleName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,6}){0,2}$/);

/** A tensor whose data fits its shape, with any doubles (NaN, ±Infinity, -0 included). */
const fittingTensor = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).chain((shape) => {
  const size = shape.reduce((product, dimension) => product * dimension, 1);
  return fc.record({
    shape: fc.constant(shape),
    data: fc.oneof(
      fc.array(fc.double(), { minLength: size, maxLength: size }),
      fc.float64Array({ minLength: size, maxLength: size }),
    ),
  });
});

/** For each type: constraints that refuse some generated inputs, a start value, and inputs, most of them plausible. */
const PROPERTY_CASES: ReadonlyArray<{
  readonly type: VariableType;
  readonly constraints?: Constraints;
  readonly start: unknown;
  readonly inputs: fc.Arbitrary<unknown>;
}> = [
  {
    type: "float",
    constraints: { min: -1000, max: 1000 },
    start: 0,
    inputs: fc.oneof(
      { weight: 4, arbitrary: fc.double() },
      { weight: 2, arbitrary: fc.integer() },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "integer",
    constraints: { min: -1_000_000, max: Number.MAX_SAFE_INTEGER },
    start: 0,
    inputs: fc.oneof(
      { weight: 3, arbitrary: fc.maxSafeInteger() },
      { weight: 2, arbitrary: fc.integer({ min: -2_000_000, max: 2_000_000 }) },
      { weight: 1, arbitrary: fc.double() },
      { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }) },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "string",
    constraints: { maxLength: 6 },
    start: "",
    inputs: fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
      { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "boolean",
    start: false,
    inputs: fc.oneof(
      { weight: 2, arbitrary: fc.boolean() },
      { weight: 2, arbitrary: stray },
      { weight: 1, arbitrary: fc.constantFrom(0, 1, "false") },
    ),
  },
  {
    type: "choice",
    constraints: { choices: ["red", "green", "blue", "çà 🚀"] },
    start: "red",
    inputs: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom("red", "green", "blue", "çà 🚀", "purple", "Red", "") },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "module",
    constraints: { namespace: "pkg" },
    start: "pkg",
    inputs: fc.oneof(
      { weight: 2, arbitrary: moduleName.map((name) => `pkg.${name}`) },
      { weight: 2, arbitrary: moduleName },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "embedding",
    constraints: { dimensions: 3 },
    start: [0, 0, 0],
    inputs: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), {
          minLength: 2,
          maxLength: 4,
        }),
      },
      {
        weight: 2,
        arbitrary: fc.float32Array({ minLength: 3, maxLength: 3, noNaN: true, noDefaultInfinity: true }),
      },
      { weight: 2, arbitrary: fc.float64Array({ minLength: 3, maxLength: 3 }) },
      { weight: 1, arbitrary: stray },
    ),
  },
  {
    type: "tensor",
    start: { shape: [0], data: [] },
    inputs: fc.oneof({ weight: 3, arbitrary: fittingTensor }, { weight: 1, arbitrary: stray }),
  },
];

/** What the shared type system says of an input: its normalized form, or the code it is refused with. */
function verdict(
  type: VariableType,
  constraints: Constraints | undefined,
  input: unknown,
  name: string,
):
  | { readonly accepted: true; readonly value: VariableValue }
  | { readonly accepted: false; readonly code: StateErrorCode } {
  try {
    return {
      accepted: true,
      value: normalizeValue(type, input, validateConstraints(type, constraints), name),
    };
  } catch (error) {
    if (!isStateError(error)) throw error;
    return { accepted: false, code: error.code };
  }
}

async function checkSet(
  provider: StateProvider,
  type: VariableType,
  constraints: Constraints | undefined,
  input: unknown,
): Promise<void> {
  const before = await provider.getVariable("subject");
  const expected = verdict(type, constraints, input, "subject");
  if (expected.accepted) {
    expect(await provider.set("subject", input), `set(${preview(input)}) returns the next version`).toBe(
      before.version + 1,
    );
    const stored = await provider.get("subject");
    if (!valuesEqual(stored, expected.value)) {
      expect.fail(
        `set(${preview(input)}) stored ${preview(stored)}, the type system normalizes it to ${preview(expected.value)}`,
      );
    }
  } else {
    await expectStateError(() => provider.set("subject", input), expected.code, `set(${preview(input)})`);
    const after = await provider.getVariable("subject");
    if (!valuesEqual(after.value, before.value)) {
      expect.fail(
        `a refused set(${preview(input)}) changed the value from ${preview(before.value)} to ${preview(after.value)}`,
      );
    }
    expect(after.version, `a refused set(${preview(input)}) keeps the version`).toBe(before.version);
  }
}

/**
 * Registers the property-based tests: for generated inputs of every type, a provider stores
 * exactly what the shared type system normalizes an accepted input to, and refuses every
 * other input with the same code, changing nothing.
 */
export function describeProperties(context: ComplianceContext): void {
  describe("properties (fast-check)", () => {
    for (const item of PROPERTY_CASES) {
      it(`${item.type}: set() stores what the type system accepts, normalized, and refuses the rest with the same code, changing nothing`, async (test) => {
        const provider = await context.open(test);
        const options = item.constraints === undefined ? {} : { constraints: item.constraints };
        await provider.register("subject", item.type, item.start, options);
        await fc.assert(
          fc.asyncProperty(item.inputs, (input) => checkSet(provider, item.type, item.constraints, input)),
          { numRuns: context.propertyRuns },
        );
      });
    }

    it("register() accepts exactly what the type system accepts and creates nothing otherwise", async (test) => {
      const provider = await context.open(test);
      let counter = 0;
      const cases = fc.oneof(...PROPERTY_CASES.map((item) => item.inputs.map((input) => ({ item, input }))));
      await fc.assert(
        fc.asyncProperty(cases, async ({ item, input }) => {
          const name = `subject_${counter++}`;
          const options = item.constraints === undefined ? {} : { constraints: item.constraints };
          const expected = verdict(item.type, item.constraints, input, name);
          if (expected.accepted) {
            const registered = await provider.register(name, item.type, input, options);
            expect(registered.version).toBe(0);
            const stored = await provider.get(name);
            if (!valuesEqual(stored, expected.value)) {
              expect.fail(
                `register(${item.type}, ${preview(input)}) stored ${preview(stored)}, expected ${preview(expected.value)}`,
              );
            }
          } else {
            await expectStateError(
              () => provider.register(name, item.type, input, options),
              expected.code,
              `register(${item.type}, ${preview(input)})`,
            );
            await expectStateError(
              () => provider.get(name),
              "not_found",
              `get() after a refused register(${preview(input)})`,
            );
          }
        }),
        { numRuns: context.propertyRuns * 2 },
      );
    });
  });
}
