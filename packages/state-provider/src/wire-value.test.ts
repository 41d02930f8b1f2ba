import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConstraints } from "./constraints.js";
import { isStateError, type StateErrorCode } from "./errors.js";
import { packFloat64 } from "./packed.js";
import { normalizeValue, valuesEqual } from "./type-system.js";
import type { VariableType } from "./variable.js";
import {
  decodeWireValue,
  encodeWireValue,
  fromWireValue,
  toWireValue,
  type WireValueKind,
} from "./wire-value.js";

/** What the type system decides for an input: the normalized value or the error code. */
function outcome(type: VariableType, input: () => unknown): { value: unknown } | { code: StateErrorCode } {
  try {
    return {
      value: normalizeValue(
        type,
        input(),
        validateConstraints(type, type === "choice" ? { choices: ["a"] } : undefined),
        "v",
      ),
    };
  } catch (error) {
    if (!isStateError(error)) throw error;
    return { code: error.code };
  }
}

function sameOutcome(
  left: { value: unknown } | { code: StateErrorCode },
  right: { value: unknown } | { code: StateErrorCode },
) {
  if ("code" in left || "code" in right) return "code" in left && "code" in right && left.code === right.code;
  return valuesEqual(left.value as never, right.value as never);
}

describe("toWireValue", () => {
  it("puts each type's value in its own field", () => {
    expect(toWireValue("float", 1.5)).toEqual({ case: "floatValue", value: 1.5 });
    expect(toWireValue("integer", 3)).toEqual({ case: "integerValue", value: 3n });
    expect(toWireValue("integer", 3n)).toEqual({ case: "integerValue", value: 3n });
    expect(toWireValue("string", "s")).toEqual({ case: "stringValue", value: "s" });
    expect(toWireValue("boolean", true)).toEqual({ case: "booleanValue", value: true });
    expect(toWireValue("choice", "a")).toEqual({ case: "choiceValue", value: "a" });
    expect(toWireValue("module", "m.N")).toEqual({ case: "moduleValue", value: "m.N" });
    expect(toWireValue("embedding", [1])).toEqual({ case: "embeddingValue", value: packFloat64([1]) });
    expect(toWireValue("embedding", Float32Array.from([0.5]))).toEqual({
      case: "embeddingValue",
      value: packFloat64([0.5]),
    });
    expect(toWireValue("tensor", { shape: [1], data: [2] })).toEqual({
      case: "tensorValue",
      value: { shape: [1], data: packFloat64([2]) },
    });
  });

  it("sends a non-whole integer as a float, so that the receiver can say it is not whole", () => {
    expect(toWireValue("integer", 2.5)).toEqual({ case: "floatValue", value: 2.5 });
    expect(toWireValue("integer", Number.NaN)).toEqual({ case: "floatValue", value: Number.NaN });
  });

  it("sends a value of the wrong kind in the field its kind suggests, or empty", () => {
    expect(toWireValue("float", "1")).toEqual({ case: "stringValue", value: "1" });
    expect(toWireValue("boolean", 1)).toEqual({ case: "floatValue", value: 1 });
    expect(toWireValue("string", [1])).toEqual({ case: "embeddingValue", value: packFloat64([1]) });
    expect(toWireValue("float", null)).toEqual({ case: undefined });
    expect(toWireValue("float", undefined)).toEqual({ case: undefined });
    expect(toWireValue("embedding", [1, "2"])).toEqual({ case: undefined });
    expect(toWireValue("tensor", { shape: [1.5], data: [1] })).toEqual({ case: undefined });
  });
});

describe("fromWireValue", () => {
  it("decodes each type's own field into the raw value the type system takes", () => {
    expect(fromWireValue("integer", { case: "integerValue", value: 5n }, "v")).toBe(5n);
    expect(fromWireValue("embedding", { case: "embeddingValue", value: packFloat64([1, -0]) }, "v")).toEqual([
      1, -0,
    ]);
    expect(
      fromWireValue("tensor", { case: "tensorValue", value: { shape: [2], data: packFloat64([1, 2]) } }, "v"),
    ).toEqual({ shape: [2], data: [1, 2] });
  });

  it("lets an integer arrive as a float, a float as an integer, and choice or module values as strings", () => {
    expect(fromWireValue("integer", { case: "floatValue", value: 3 }, "v")).toBe(3);
    expect(fromWireValue("float", { case: "integerValue", value: 7n }, "v")).toBe(7n);
    expect(fromWireValue("choice", { case: "stringValue", value: "a" }, "v")).toBe("a");
    expect(fromWireValue("module", { case: "stringValue", value: "m" }, "v")).toBe("m");
  });

  it("refuses an empty value, another type's field and partial doubles with invalid_value", () => {
    const refused: ReadonlyArray<readonly [VariableType, WireValueKind | undefined, RegExp]> = [
      ["float", undefined, /got an empty value/],
      ["float", { case: undefined }, /got an empty value/],
      ["float", { case: "stringValue", value: "1" }, /needs a float, got a string value/],
      ["boolean", { case: "integerValue", value: 1n }, /needs a boolean, got a integer value/],
      ["string", { case: "choiceValue", value: "a" }, /needs a string, got a choice value/],
      ["embedding", { case: "embeddingValue", value: new Uint8Array(7) }, /not whole 8-byte doubles/],
      [
        "tensor",
        { case: "tensorValue", value: { shape: [1], data: new Uint8Array(4) } },
        /not whole 8-byte doubles/,
      ],
    ];
    for (const [type, kind, message] of refused) {
      let thrown: unknown;
      try {
        fromWireValue(type, kind, "v");
      } catch (error) {
        thrown = error;
      }
      expect(isStateError(thrown, "invalid_value"), `${type} from ${kind?.case}`).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it("gives the receiver the same verdict as a local check, for generated inputs of every type", () => {
    const types: VariableType[] = [
      "float",
      "integer",
      "string",
      "boolean",
      "choice",
      "module",
      "embedding",
      "tensor",
    ];
    const inputs = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
      fc.string({ maxLength: 6 }),
      fc.constantFrom("a", "m.N", "true"),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.double(), { maxLength: 4 }),
      fc.float32Array({ maxLength: 4 }),
      fc.array(fc.nat(3), { maxLength: 2 }).chain((shape) => {
        const size = shape.reduce((product, dimension) => product * dimension, 1);
        return fc.record({
          shape: fc.constant(shape),
          data: fc.array(fc.double(), { minLength: size, maxLength: size }),
        });
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...types), inputs, (type, input) => {
        const local = outcome(type, () => input);
        const remote = outcome(type, () => fromWireValue(type, toWireValue(type, input), "v"));
        expect(
          sameOutcome(local, remote),
          `${type}: ${JSON.stringify(local)} / ${JSON.stringify(remote)}`,
        ).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("encodeWireValue and decodeWireValue", () => {
  it("round-trip normalized values, with frozen arrays and integers as numbers", () => {
    const cases: ReadonlyArray<readonly [VariableType, unknown]> = [
      ["float", Number.NaN],
      ["float", -0],
      ["integer", Number.MAX_SAFE_INTEGER],
      ["string", "température"],
      ["boolean", false],
      ["choice", "a"],
      ["module", "m.N"],
      ["embedding", Object.freeze([1, -0, 0.1])],
      [
        "tensor",
        Object.freeze({ shape: Object.freeze([2]), data: Object.freeze([Number.NEGATIVE_INFINITY, 1]) }),
      ],
    ];
    for (const [type, value] of cases) {
      const decoded = decodeWireValue(encodeWireValue(type, value as never));
      expect(valuesEqual(decoded, value as never), type).toBe(true);
      if (typeof value === "object") expect(Object.isFrozen(decoded), type).toBe(true);
    }
    const integer = decodeWireValue(encodeWireValue("integer", 7));
    expect(integer).toBe(7);
    expect(decodeWireValue(undefined)).toBeUndefined();
    expect(decodeWireValue({ case: undefined })).toBeUndefined();
  });

  it("round-trips a 1,000,000-element tensor exactly", () => {
    const data = Array.from({ length: 1_000_000 }, (_, index) => (index % 7 === 0 ? -0 : index / 3));
    const decoded = decodeWireValue(encodeWireValue("tensor", { shape: [1000, 1000], data })) as {
      shape: number[];
      data: number[];
    };
    expect(decoded.shape).toEqual([1000, 1000]);
    expect(decoded.data.every((value, index) => Object.is(value, data[index]))).toBe(true);
  });
});
