import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PATTERN_LENGTH } from "./constraint-pattern.js";
import { validateConstraints } from "./constraints.js";
import { isStateError, type StateErrorCode } from "./errors.js";
import {
  assertIdentifierLength,
  assertVariableName,
  isIdShaped,
  MAX_IDENTIFIER_LENGTH,
  MAX_NAME_LENGTH,
} from "./identifiers.js";
import { describe as describeValue } from "./messages.js";
import { mergeMetadata, normalizeMetadata } from "./metadata.js";
import { assertExpectedVersion } from "./option-checks.js";
import {
  assertVariableType,
  isTensorValue,
  isVariableType,
  MAX_ARRAY_LENGTH,
  MAX_TENSOR_RANK,
  normalizeValue,
  valuesEqual,
} from "./type-system.js";
import { codePointLength } from "./unicode.js";
import { VARIABLE_TYPES, type VariableType } from "./variable.js";

/** Runs `action` and returns the StateError it throws, failing if it throws none or another code. */
function thrownBy(action: () => unknown, code: StateErrorCode) {
  try {
    action();
  } catch (error) {
    if (!isStateError(error)) throw error;
    expect(error.code, error.message).toBe(code);
    return error;
  }
  throw new Error(`expected a ${code} StateError, nothing was thrown`);
}

const normalize = (type: VariableType, value: unknown, constraints: unknown = undefined, name = "v") =>
  normalizeValue(type, value, validateConstraints(type, constraints), name);

describe("assertVariableType and isVariableType", () => {
  it("accept the eight types and refuse anything else with invalid_type listing them", () => {
    for (const type of VARIABLE_TYPES) {
      expect(assertVariableType(type)).toBe(type);
      expect(isVariableType(type)).toBe(true);
    }
    for (const value of ["double", "Float", "", 1, null, undefined]) {
      expect(isVariableType(value)).toBe(false);
      const error = thrownBy(() => assertVariableType(value), "invalid_type");
      expect(error.message).toContain("float, integer, string, boolean, choice, module, embedding, tensor");
    }
  });
});

describe("assertVariableName and isIdShaped", () => {
  it("accepts any well-formed non-empty string up to the limit that is not id-shaped", () => {
    for (const name of [
      "a",
      "__proto__",
      "constructor",
      " ",
      "🚀",
      "var_",
      "var_0123",
      "x".repeat(MAX_NAME_LENGTH),
    ]) {
      expect(assertVariableName(name)).toBe(name);
    }
  });

  it("refuses empty, too long, non-string, lone-surrogate and id-shaped names with invalid_value", () => {
    const refused: ReadonlyArray<readonly [unknown, RegExp]> = [
      ["", /must not be empty/],
      ["x".repeat(MAX_NAME_LENGTH + 1), /at most 1024/],
      [42, /must be a string/],
      [null, /must be a string/],
      ["a\udc00", /well-formed/],
      ["var_0123456789abcdef01234567", /shaped like a variable id/],
    ];
    for (const [name, message] of refused) {
      expect(thrownBy(() => assertVariableName(name), "invalid_value").message).toMatch(message);
    }
  });

  it("isIdShaped is exactly var_ and 24 lowercase hex digits", () => {
    expect(isIdShaped("var_0123456789abcdef01234567")).toBe(true);
    expect(isIdShaped("var_0123456789ABCDEF01234567")).toBe(false);
    expect(isIdShaped("var_0123456789abcdef0123456")).toBe(false);
    expect(isIdShaped("var_0123456789abcdef012345678")).toBe(false);
    expect(isIdShaped(" var_0123456789abcdef01234567")).toBe(false);
  });
});

describe("validateConstraints", () => {
  it("returns a frozen copy holding only the given keys, skipping undefined ones", () => {
    const choices = ["a", "b"];
    const constraints = validateConstraints("choice", { choices });
    expect(Object.isFrozen(constraints)).toBe(true);
    expect(Object.isFrozen(constraints.choices)).toBe(true);
    choices.push("c");
    expect(constraints.choices).toEqual(["a", "b"]);
    expect(validateConstraints("float", { min: 1, max: undefined })).toEqual({ min: 1 });
    expect(Object.keys(validateConstraints("float", undefined))).toEqual([]);
    expect(Object.keys(validateConstraints("boolean", null))).toEqual([]);
  });

  it("accepts each type's own keys", () => {
    expect(validateConstraints("float", { min: -1.5, max: 1.5 })).toEqual({ min: -1.5, max: 1.5 });
    expect(validateConstraints("integer", { min: 1, max: 1 })).toEqual({ min: 1, max: 1 });
    expect(validateConstraints("string", { minLength: 0, maxLength: 3, pattern: "^a", enum: ["a"] })).toEqual(
      {
        minLength: 0,
        maxLength: 3,
        pattern: "^a",
        enum: ["a"],
      },
    );
    expect(validateConstraints("module", { choices: ["a.B"], pattern: "a", namespace: "a" })).toEqual({
      choices: ["a.B"],
      pattern: "a",
      namespace: "a",
    });
    expect(validateConstraints("embedding", { dimensions: 0 })).toEqual({ dimensions: 0 });
    expect(validateConstraints("tensor", { shape: [] })).toEqual({ shape: [] });
  });

  it("refuses malformed specs with invalid_value, naming the problem", () => {
    const refused: ReadonlyArray<readonly [VariableType, unknown, RegExp]> = [
      ["float", { min: 2, max: 1 }, /min 2 is above max 1/],
      ["float", { min: Number.POSITIVE_INFINITY }, /finite number/],
      ["integer", { max: 1.5 }, /must be whole/],
      ["string", { minLength: 3, maxLength: 2 }, /minLength 3 is above maxLength 2/],
      ["string", { maxLength: -1 }, /non-negative integer/],
      ["string", { pattern: "(" }, /does not compile/],
      ["string", { pattern: "x".repeat(MAX_PATTERN_LENGTH + 1) }, /longer than/],
      ["string", { enum: [] }, /must not be empty/],
      ["string", { enum: ["a", "a"] }, /twice/],
      ["string", { enum: ["\ud800"] }, /only strings/],
      ["choice", {}, /needs constraints.choices/],
      ["choice", undefined, /needs constraints.choices/],
      ["choice", { choices: "a" }, /array of strings/],
      ["module", { choices: ["not a module"] }, /not a module name/],
      ["module", { namespace: "bad name" }, /not a module name/],
      ["module", { namespace: "" }, /non-empty string/],
      ["embedding", { dimensions: 1.5 }, /non-negative integer/],
      ["tensor", { shape: [2, -1] }, /integers from 0 to 16777216/],
      ["tensor", { shape: [0, MAX_ARRAY_LENGTH + 1] }, /integers from 0 to 16777216/],
      ["tensor", { shape: new Array(MAX_TENSOR_RANK + 1).fill(1) }, /33 dimensions, more than 32/],
      ["tensor", { shape: new Array(100_000).fill(1) }, /100000 dimensions, more than 32/],
      ["string", { pattern: "^(a)\\1$" }, /linear time/],
      ["tensor", { shape: "2x2" }, /array of integers/],
      ["float", { minimum: 0 }, /"minimum" does not apply to type float \(allowed: min, max\)/],
      ["boolean", { enum: ["true"] }, /it takes none/],
      ["integer", [1], /must be an object/],
      ["integer", "min=0", /must be an object/],
    ];
    for (const [type, constraints, message] of refused) {
      expect(thrownBy(() => validateConstraints(type, constraints), "invalid_value").message).toMatch(
        message,
      );
    }
  });
});

describe("assertIdentifierLength", () => {
  it(`refuses a string longer than ${MAX_IDENTIFIER_LENGTH} characters with invalid_value, naming its length only`, () => {
    assertIdentifierLength("x".repeat(MAX_IDENTIFIER_LENGTH));
    assertIdentifierLength(42);
    const error = thrownBy(() => assertIdentifierLength("x".repeat(200_000), "a source"), "invalid_value");
    expect(error.message).toBe("invalid_value: a source must be at most 1024 characters, got 200000");
  });
});

describe("normalizeValue", () => {
  it("float: any number, NaN, ±Infinity and -0 kept; nothing else", () => {
    for (const value of [
      0.5,
      3,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      Number.MIN_VALUE,
    ]) {
      expect(Object.is(normalize("float", value), value)).toBe(true);
    }
    for (const value of ["1", true, null, undefined, 2n ** 53n, [1], {}])
      thrownBy(() => normalize("float", value), "invalid_value");
    expect(normalize("float", 12n)).toBe(12);
  });

  it("float: min and max are inclusive and special values skip them", () => {
    const constraints = { min: 0, max: 1 };
    expect(normalize("float", 0, constraints)).toBe(0);
    expect(normalize("float", 1, constraints)).toBe(1);
    expect(Number.isNaN(normalize("float", Number.NaN, constraints))).toBe(true);
    expect(normalize("float", Number.NEGATIVE_INFINITY, constraints)).toBe(Number.NEGATIVE_INFINITY);
    const error = thrownBy(() => normalize("float", 3.5, { max: 2 }, "temperature"), "constraint_violation");
    expect(error.message).toBe('constraint_violation: "temperature" = 3.5 is above max 2');
    expect(thrownBy(() => normalize("float", -0.1, constraints), "constraint_violation").message).toContain(
      "below min 0",
    );
  });

  it("integer: safe integers, whole floats and safe bigints become numbers; -0 becomes 0", () => {
    expect(normalize("integer", 3.0)).toBe(3);
    expect(Object.is(normalize("integer", -0), 0)).toBe(true);
    expect(normalize("integer", 12n)).toBe(12);
    expect(normalize("integer", BigInt(Number.MIN_SAFE_INTEGER))).toBe(Number.MIN_SAFE_INTEGER);
    expect(normalize("integer", Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("integer: fractions, non-finite numbers, unsafe magnitudes and other kinds are refused", () => {
    expect(thrownBy(() => normalize("integer", 3.5), "invalid_value").message).toContain(
      "not a whole number",
    );
    thrownBy(() => normalize("integer", Number.NaN), "invalid_value");
    thrownBy(() => normalize("integer", Number.POSITIVE_INFINITY), "invalid_value");
    expect(thrownBy(() => normalize("integer", 2 ** 53), "invalid_value").message).toContain(
      "safe integer range",
    );
    thrownBy(() => normalize("integer", -(2n ** 53n)), "invalid_value");
    thrownBy(() => normalize("integer", "3"), "invalid_value");
    thrownBy(() => normalize("integer", 5, { max: 4 }), "constraint_violation");
    thrownBy(() => normalize("integer", 3n, { min: 4 }), "constraint_violation");
  });

  it("boolean: only true and false", () => {
    expect(normalize("boolean", true)).toBe(true);
    expect(normalize("boolean", false)).toBe(false);
    for (const value of ["true", "false", 1, 0, null, undefined])
      thrownBy(() => normalize("boolean", value), "invalid_value");
  });

  it("string: lengths in code points, pattern, enum; lone surrogates refused", () => {
    expect(normalize("string", "😀😀", { maxLength: 2 })).toBe("😀😀");
    expect(
      thrownBy(() => normalize("string", "😀😀😀", { maxLength: 2 }), "constraint_violation").message,
    ).toContain("3 characters, above maxLength 2");
    thrownBy(() => normalize("string", "😀", { minLength: 2 }), "constraint_violation");
    thrownBy(() => normalize("string", "ab1", { pattern: "^[a-z]+$" }), "constraint_violation");
    thrownBy(() => normalize("string", "x", { enum: ["a"] }), "constraint_violation");
    thrownBy(() => normalize("string", "\ud800"), "invalid_value");
    thrownBy(() => normalize("string", 1), "invalid_value");
  });

  it("choice: a listed string", () => {
    expect(normalize("choice", "a", { choices: ["a", "b"] })).toBe("a");
    thrownBy(() => normalize("choice", "c", { choices: ["a", "b"] }), "constraint_violation");
    thrownBy(() => normalize("choice", 1, { choices: ["a"] }), "invalid_value");
  });

  it("module: dotted identifiers; choices, pattern and namespace", () => {
    expect(normalize("module", "dspy.Predict")).toBe("dspy.Predict");
    for (const value of ["", "1a", "a..b", "a.", ".a", "a b", "a-b"]) {
      thrownBy(() => normalize("module", value), "invalid_value");
    }
    expect(normalize("module", "dspy", { namespace: "dspy" })).toBe("dspy");
    expect(normalize("module", "dspy.x.Y", { namespace: "dspy" })).toBe("dspy.x.Y");
    thrownBy(() => normalize("module", "dspyx.Y", { namespace: "dspy" }), "constraint_violation");
    thrownBy(() => normalize("module", "a.B", { choices: ["a.C"] }), "constraint_violation");
    thrownBy(() => normalize("module", "a.B", { pattern: "^b" }), "constraint_violation");
  });

  it("embedding: number[], Float32Array or Float64Array of finite numbers becomes a frozen plain array", () => {
    const fromFloat32 = normalize("embedding", Float32Array.from([0.1, 2]));
    expect(Array.isArray(fromFloat32)).toBe(true);
    expect(Object.isFrozen(fromFloat32)).toBe(true);
    expect(fromFloat32).toEqual([Math.fround(0.1), 2]);
    const input = [1, 2];
    const stored = normalize("embedding", input);
    expect(stored).not.toBe(input);
    expect(normalize("embedding", [1, 2, 3], { dimensions: 3 })).toEqual([1, 2, 3]);
    thrownBy(() => normalize("embedding", [1, 2], { dimensions: 3 }), "constraint_violation");
    thrownBy(() => normalize("embedding", [Number.NaN]), "invalid_value");
    thrownBy(() => normalize("embedding", Float64Array.from([Number.POSITIVE_INFINITY])), "invalid_value");
    thrownBy(() => normalize("embedding", [1, "2"]), "invalid_value");
    thrownBy(() => normalize("embedding", Int32Array.from([1])), "invalid_value");
  });

  it("embedding and tensor: more than MAX_ARRAY_LENGTH elements are refused before they are read", () => {
    const huge = new Array(MAX_ARRAY_LENGTH + 1);
    expect(thrownBy(() => normalize("embedding", huge), "invalid_value").message).toContain("more than");
    thrownBy(() => normalize("tensor", { shape: [MAX_ARRAY_LENGTH + 1], data: huge }), "invalid_value");
  });

  it("tensor: shape and data that fit become a frozen tensor; NaN and ±Infinity allowed in data", () => {
    const tensor = normalize("tensor", {
      shape: [2, 2],
      data: [1, Number.NaN, Number.NEGATIVE_INFINITY, -0],
    });
    expect(isTensorValue(tensor)).toBe(true);
    expect(Object.isFrozen(tensor)).toBe(true);
    const { shape, data } = tensor as { shape: number[]; data: number[] };
    expect(Object.isFrozen(shape) && Object.isFrozen(data)).toBe(true);
    expect(valuesEqual(tensor, { shape: [2, 2], data: [1, Number.NaN, Number.NEGATIVE_INFINITY, -0] })).toBe(
      true,
    );
    expect(normalize("tensor", { shape: [], data: [5] })).toEqual({ shape: [], data: [5] });
    expect(normalize("tensor", { shape: [3, 0], data: [] })).toEqual({ shape: [3, 0], data: [] });
    expect(thrownBy(() => normalize("tensor", { shape: [2], data: [1] }), "invalid_value").message).toContain(
      "needs 2 elements, data has 1",
    );
    thrownBy(() => normalize("tensor", { shape: [-1], data: [] }), "invalid_value");
    // Regression: 100,000 dimensions were accepted, and echoed whole in messages.
    const flat = new Array(100_000).fill(1);
    expect(thrownBy(() => normalize("tensor", { shape: flat, data: [1] }), "invalid_value").message).toMatch(
      /at most 32 dimensions, got 100000/,
    );
    normalize("tensor", { shape: new Array(MAX_TENSOR_RANK).fill(1), data: [1] });
    thrownBy(() => normalize("tensor", { shape: [2 ** 40, 0], data: [] }), "invalid_value");
    thrownBy(() => normalize("tensor", { data: [1] }), "invalid_value");
    thrownBy(() => normalize("tensor", [1]), "invalid_value");
    thrownBy(() => normalize("tensor", Float64Array.from([1])), "invalid_value");
    thrownBy(
      () => normalize("tensor", { shape: [2], data: [1, 2] }, { shape: [1, 2] }),
      "constraint_violation",
    );
  });

  it("messages cut long names and values", () => {
    const error = thrownBy(
      () => normalize("string", "y".repeat(500), { maxLength: 1 }, "n".repeat(500)),
      "constraint_violation",
    );
    expect(error.message.length).toBeLessThan(300);
  });

  it("normalizing a normalized value gives an equal value (any type, generated inputs)", () => {
    const cases = fc.oneof(
      fc.double().map((value) => ["float", value] as const),
      fc.maxSafeInteger().map((value) => ["integer", value] as const),
      fc.string({ unit: "grapheme" }).map((value) => ["string", value] as const),
      fc.boolean().map((value) => ["boolean", value] as const),
      fc
        .array(fc.double({ noNaN: true, noDefaultInfinity: true }))
        .map((value) => ["embedding", value] as const),
      fc.float32Array({ noNaN: true, noDefaultInfinity: true }).map((value) => ["embedding", value] as const),
      fc
        .array(fc.double(), { maxLength: 12 })
        .map((data) => ["tensor", { shape: [data.length], data }] as const),
    );
    fc.assert(
      fc.property(cases, ([type, input]) => {
        const once = normalize(type, input);
        expect(valuesEqual(normalize(type, once), once)).toBe(true);
      }),
    );
  });
});

describe("normalizeMetadata and mergeMetadata", () => {
  it("copies metadata deeply into frozen null-prototype objects, so __proto__ is plain data", () => {
    const input = JSON.parse('{"__proto__": {"x": 1}, "list": [1, {"a": null}], "skip": null}') as object;
    const metadata = normalizeMetadata(input);
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(Object.isFrozen(metadata)).toBe(true);
    expect(Object.keys(metadata)).toEqual(["__proto__", "list", "skip"]);
    expect(Object.isFrozen(metadata.list)).toBe(true);
    expect(JSON.stringify(metadata)).toBe('{"__proto__":{"x":1},"list":[1,{"a":null}],"skip":null}');
    expect(normalizeMetadata({ gone: undefined })).toEqual({});
    expect(normalizeMetadata(undefined)).toEqual({});
  });

  it("refuses what is not JSON-compatible with invalid_value, naming the path", () => {
    const refused: ReadonlyArray<readonly [unknown, RegExp]> = [
      [{ a: { b: [1, Number.NaN] } }, /metadata\.a\.b\[1\] = NaN/],
      [{ a: new Date(0) }, /metadata\.a holds a Date/],
      [{ a: () => 1 }, /metadata\.a holds function/],
      [{ a: 1n }, /metadata\.a holds bigint/],
      [{ a: "\udfff" }, /well-formed/],
      [[1], /must be an object/],
      [Uint8Array.from([1]), /must be an object/],
      ["text", /must be an object/],
      [
        { ["k".repeat(MAX_IDENTIFIER_LENGTH + 1)]: 1 },
        /a key of metadata must be at most 1024 characters, got 1025/,
      ],
      [{ a: { ["k".repeat(200_000)]: 1 } }, /a key of metadata\.a must be at most 1024 characters/],
    ];
    for (const [metadata, message] of refused) {
      expect(thrownBy(() => normalizeMetadata(metadata), "invalid_value").message).toMatch(message);
    }
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let depth = 0; depth < 70; depth++) {
      deep.next = {};
      deep = deep.next as Record<string, unknown>;
    }
    expect(thrownBy(() => normalizeMetadata(root), "invalid_value").message).toContain("deeper than 64");
  });

  it("mergeMetadata is shallow, the update wins, and the result is frozen", () => {
    const current = normalizeMetadata({ keep: 1, replace: { old: true } });
    const merged = mergeMetadata(current, normalizeMetadata({ replace: { new: true }, add: "x" }));
    expect(merged).toEqual({ keep: 1, replace: { new: true }, add: "x" });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(current).toEqual({ keep: 1, replace: { old: true } });
    expect(mergeMetadata(current, undefined)).toBe(current);
    expect(mergeMetadata(current, normalizeMetadata({}))).toBe(current);
  });
});

describe("assertExpectedVersion", () => {
  it("accepts non-negative safe integers and refuses the rest with invalid_value", () => {
    for (const value of [0, 1, Number.MAX_SAFE_INTEGER]) expect(assertExpectedVersion(value)).toBe(value);
    for (const value of [-1, 0.5, Number.NaN, 2 ** 53, "1", null, undefined]) {
      thrownBy(() => assertExpectedVersion(value), "invalid_value");
    }
  });
});

describe("valuesEqual", () => {
  it("is exact: NaN equals NaN, -0 differs from 0, arrays and tensors element by element", () => {
    expect(valuesEqual(Number.NaN, Number.NaN)).toBe(true);
    expect(valuesEqual(-0, 0)).toBe(false);
    expect(valuesEqual([1, Number.NaN], [1, Number.NaN])).toBe(true);
    expect(valuesEqual([0], [-0])).toBe(false);
    expect(valuesEqual([1, 2], [1, 2, 3])).toBe(false);
    expect(valuesEqual({ shape: [2], data: [1, 2] }, { shape: [2], data: [1, 2] })).toBe(true);
    expect(valuesEqual({ shape: [2, 1], data: [1, 2] }, { shape: [1, 2], data: [1, 2] })).toBe(false);
    expect(valuesEqual("1", 1)).toBe(false);
    expect(valuesEqual(true, true)).toBe(true);
    expect(valuesEqual(undefined, undefined)).toBe(true);
    expect(valuesEqual([1], { shape: [1], data: [1] })).toBe(false);
  });
});

describe("codePointLength and describe", () => {
  it("counts code points: a surrogate pair is one, a lone surrogate is one", () => {
    expect(codePointLength("")).toBe(0);
    expect(codePointLength("abc")).toBe(3);
    expect(codePointLength("😀a😀")).toBe(3);
    expect(codePointLength("\ud800")).toBe(1);
    expect(codePointLength("\ud800\ud800")).toBe(2);
    expect(codePointLength("é")).toBe(1);
  });

  it("describes values by kind, briefly", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue(undefined)).toBe("undefined");
    expect(describeValue("x")).toBe('string "x"');
    expect(describeValue(-0)).toBe("number -0");
    expect(describeValue(5n)).toBe("bigint 5");
    expect(describeValue([1, 2])).toBe("array of 2");
    expect(describeValue(Float32Array.from([1]))).toBe("Float32Array");
    expect(describeValue({})).toBe("object");
    expect(describeValue(Object.create(null))).toBe("object");
    expect(describeValue(new Map())).toBe("Map");
    expect(describeValue("z".repeat(200)).length).toBeLessThan(100);
  });
});
