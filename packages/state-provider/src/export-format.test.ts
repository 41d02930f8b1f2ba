import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConstraints } from "./constraints.js";
import { isStateError } from "./errors.js";
import {
  createExport,
  type DecodedExportedVariable,
  decodeValue,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  encodeValue,
  parseExport,
  parseExportedVariables,
} from "./export-format.js";
import { createVariableId } from "./ids.js";
import { normalizeMetadata } from "./metadata.js";
import { normalizeValue, valuesEqual } from "./type-system.js";
import type { Constraints, Variable, VariableType, VariableValue } from "./variable.js";

function variable(name: string, type: VariableType, raw: unknown, constraints?: Constraints): Variable {
  const normalized = validateConstraints(type, constraints);
  return {
    id: createVariableId(),
    name,
    type,
    value: normalizeValue(type, raw, normalized, name),
    constraints: normalized,
    metadata: normalizeMetadata({ owner: name }),
    version: 3,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_500,
    source: "python",
  };
}

/** A JSON round trip, as a document makes between processes. */
function throughJson(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

function invalidExportMessage(document: unknown): string {
  try {
    parseExport(document);
  } catch (error) {
    if (isStateError(error, "invalid_export")) return error.message;
    throw error;
  }
  throw new Error("parseExport accepted the document");
}

describe("encodeValue and decodeValue", () => {
  it("encode the numbers JSON cannot hold as $float tags and decode them back", () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [Number.NaN, "NaN"],
      [Number.POSITIVE_INFINITY, "Infinity"],
      [Number.NEGATIVE_INFINITY, "-Infinity"],
      [-0, "-0"],
    ];
    for (const [value, tag] of cases) {
      expect(encodeValue("float", value)).toEqual({ $float: tag });
      expect(Object.is(decodeValue("float", { $float: tag }, "value"), value)).toBe(true);
    }
    expect(encodeValue("float", 0.5)).toBe(0.5);
    expect(encodeValue("integer", 0)).toBe(0);
    expect(encodeValue("string", "x")).toBe("x");
    expect(encodeValue("boolean", false)).toBe(false);
  });

  it("encode embeddings and tensors as base64 little-endian doubles", () => {
    const embedding = encodeValue("embedding", [1]) as { $f64: string };
    expect(Buffer.from(embedding.$f64, "base64")).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]));
    const tensor = encodeValue("tensor", { shape: [1, 2], data: [Number.NaN, -0] }) as {
      shape: number[];
      $f64: string;
    };
    expect(tensor.shape).toEqual([1, 2]);
    const decoded = decodeValue("tensor", tensor, "value") as { shape: number[]; data: number[] };
    expect(decoded.shape).toEqual([1, 2]);
    expect(Number.isNaN(decoded.data[0])).toBe(true);
    expect(Object.is(decoded.data[1], -0)).toBe(true);
  });

  it("pass plain values through and refuse malformed encodings with invalid_export naming the path", () => {
    expect(decodeValue("string", "text", "value")).toBe("text");
    expect(decodeValue("integer", 3, "value")).toBe(3);
    const refused: ReadonlyArray<readonly [unknown, RegExp]> = [
      [{ $float: "nan" }, /variables\[0\]\.value\.\$float is string "nan"/],
      [{ $f64: 5 }, /\$f64 must be base64 text/],
      [{ $f64: "not base64!" }, /\$f64 must be base64 text/],
      [{ $f64: "AAAA" }, /whole 8-byte doubles/],
    ];
    for (const [encoded, message] of refused) {
      let thrown: unknown;
      try {
        decodeValue("embedding", encoded, "variables[0].value");
      } catch (error) {
        thrown = error;
      }
      expect(isStateError(thrown, "invalid_export")).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});

describe("createExport", () => {
  it("builds a versioned, JSON-serializable document of every variable in order", () => {
    const variables = [variable("b", "integer", 1), variable("a", "float", Number.NaN)];
    const before = Date.now();
    const document = createExport({ sessionId: "session_1", revision: 9, variables });
    expect(document.format).toBe(EXPORT_FORMAT);
    expect(document.version).toBe(EXPORT_VERSION);
    expect(document.sessionId).toBe("session_1");
    expect(document.revision).toBe(9);
    expect(document.exportedAt).toBeGreaterThanOrEqual(before);
    expect(document.metadata).toEqual({});
    expect(document.variables.map((entry) => entry.name)).toEqual(["b", "a"]);
    expect(document.variables[1]?.value).toEqual({ $float: "NaN" });
    expect(throughJson(document)).toEqual(throughJson(throughJson(document)));
  });
});

describe("parseExport", () => {
  const variables = [
    variable("nan", "float", Number.NaN, { min: 0 }),
    variable("negative_zero", "float", -0),
    variable("count", "integer", 42, { max: 100 }),
    variable("text", "string", "température 🚀", { maxLength: 20 }),
    variable("flag", "boolean", true),
    variable("model", "choice", "a", { choices: ["a", "b"] }),
    variable("predictor", "module", "dspy.Predict", { namespace: "dspy" }),
    variable("vector", "embedding", Float32Array.from([0.1, 0.2]), { dimensions: 2 }),
    variable(
      "matrix",
      "tensor",
      { shape: [2, 2], data: [1, Number.POSITIVE_INFINITY, -0, 4] },
      { shape: [2, 2] },
    ),
  ];

  it("restores every field of every variable exactly after a JSON round trip", () => {
    const document = createExport({
      sessionId: "session_x",
      revision: 12,
      metadata: normalizeMetadata({ project: "p" }),
      variables,
    });
    const parsed = parseExport(throughJson(document));
    expect(parsed.sessionId).toBe("session_x");
    expect(parsed.revision).toBe(12);
    expect(parsed.metadata).toEqual({ project: "p" });
    expect(parsed.variables).toHaveLength(variables.length);
    for (const [index, original] of variables.entries()) {
      const restored = parsed.variables[index] as Variable;
      expect(restored.id).toBe(original.id);
      expect(restored.name).toBe(original.name);
      expect(restored.type).toBe(original.type);
      expect(valuesEqual(restored.value, original.value), original.name).toBe(true);
      expect(restored.constraints).toEqual(original.constraints);
      expect(restored.metadata).toEqual(original.metadata);
      expect(restored.version).toBe(3);
      expect(restored.createdAt).toBe(original.createdAt);
      expect(restored.updatedAt).toBe(original.updatedAt);
      expect(restored.source).toBe("python");
      expect(Object.isFrozen(restored)).toBe(true);
    }
  });

  it("round-trips any float and any embedding bit-exactly", () => {
    fc.assert(
      fc.property(
        fc.double(),
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 16 }),
        (float, embedding) => {
          const document = createExport({
            sessionId: "s",
            revision: 2,
            variables: [variable("f", "float", float), variable("e", "embedding", embedding)],
          });
          const [restoredFloat, restoredEmbedding] = parseExport(throughJson(document))
            .variables as Variable[];
          expect(Object.is(restoredFloat?.value, float)).toBe(true);
          expect(valuesEqual(restoredEmbedding?.value, embedding as VariableValue)).toBe(true);
        },
      ),
    );
  });

  it("normalizes values through the type system, as a register would", () => {
    const document = throughJson(
      createExport({ sessionId: "s", revision: 1, variables: [variable("c", "integer", 1)] }),
    );
    const [entry] = document.variables as Record<string, unknown>[];
    (entry as Record<string, unknown>).value = 7.0;
    expect(parseExport(document).variables[0]?.value).toBe(7);
  });

  it("refuses malformed documents with invalid_export, naming the first problem by its path", () => {
    const valid = throughJson(
      createExport({
        sessionId: "s",
        revision: 5,
        variables: [variable("a", "integer", 1), variable("b", "string", "x")],
      }),
    );
    const change = (
      edit: (document: Record<string, unknown>, entries: Record<string, unknown>[]) => void,
    ) => {
      const copy = structuredClone(valid);
      edit(copy, copy.variables as Record<string, unknown>[]);
      return copy;
    };
    const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
      [null, /an export must be an object, got null/],
      [[], /an export must be an object/],
      [
        change((document) => {
          document.format = "other";
        }),
        /format must be "statebridge.export"/,
      ],
      [
        change((document) => {
          document.version = 2;
        }),
        /version number 2 is not supported/,
      ],
      [
        change((document) => {
          document.sessionId = 1;
        }),
        /sessionId must be a string/,
      ],
      [
        change((document) => {
          document.revision = -1;
        }),
        /revision must be a non-negative integer/,
      ],
      [
        change((document) => {
          document.metadata = [1];
        }),
        /^invalid_export: metadata: /,
      ],
      [
        change((document) => {
          document.variables = {};
        }),
        /variables must be an array/,
      ],
      [
        change((document) => {
          (document.variables as unknown[]).push("x");
        }),
        /variables\[2\] must be an object/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).id = "var_1";
        }),
        /variables\[0\]\.id must be a variable id/,
      ],
      [
        change((_, [first, second]) => {
          (second as Record<string, unknown>).id = (first as Record<string, unknown>).id;
        }),
        /variables\[1\]\.id .* appears twice/,
      ],
      [
        change((_, [, second]) => {
          (second as Record<string, unknown>).name = "a";
        }),
        /variables\[1\]\.name "a" appears twice/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).name = "";
        }),
        /variables\[0\]\.name: a variable name must not be empty/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).type = "double";
        }),
        /variables\[0\]\.type: unknown type/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).constraints = { min: 3, max: 1 };
        }),
        /variables\[0\]\.constraints: /,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).value = "1";
        }),
        /variables\[0\]\.value: /,
      ],
      [
        change((_, [first]) => {
          Object.assign(first as object, { value: 9, constraints: { max: 5 } });
        }),
        /variables\[0\]\.value: "a" = 9 is above max 5/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).metadata = "m";
        }),
        /variables\[0\]\.metadata: /,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).version = 1.5;
        }),
        /variables\[0\]\.version must be a non-negative integer/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).createdAt = -1;
        }),
        /variables\[0\]\.createdAt must be epoch milliseconds/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).updatedAt = null;
        }),
        /variables\[0\]\.updatedAt must be epoch milliseconds/,
      ],
      [
        change((_, [first]) => {
          (first as Record<string, unknown>).source = 5;
        }),
        /variables\[0\]\.source must be a string/,
      ],
    ];
    for (const [document, message] of cases) expect(invalidExportMessage(document)).toMatch(message);
  });

  it("keeps the type system's error as the cause of an invalid_export", () => {
    const document = throughJson(
      createExport({ sessionId: "s", revision: 1, variables: [variable("a", "integer", 1)] }),
    );
    (document.variables as Record<string, unknown>[])[0]!.value = 1.5;
    try {
      parseExport(document);
      expect.fail("parseExport accepted a fractional integer");
    } catch (error) {
      expect(isStateError(error, "invalid_export")).toBe(true);
      expect(isStateError((error as Error).cause, "invalid_value")).toBe(true);
    }
  });
});

describe("parseExportedVariables", () => {
  const variables = [
    variable("nan", "float", Number.NaN, { min: 0 }),
    variable("count", "integer", 42, { max: 100 }),
    variable("text", "string", "température 🚀", { maxLength: 20 }),
    variable("flag", "boolean", false),
    variable("vector", "embedding", [0.1, -0], { dimensions: 2 }),
    variable("matrix", "tensor", { shape: [2, 1], data: [1, Number.NEGATIVE_INFINITY] }),
  ];

  it("gives exactly what parseExport gives for the same variables, values already decoded", () => {
    const document = throughJson(createExport({ sessionId: "s", revision: 2, variables }));
    const decoded = (document.variables as Record<string, unknown>[]).map((entry) => ({
      ...entry,
      value: decodeValue(entry.type as VariableType, entry.value, "value"),
    }));
    const parsed = parseExportedVariables(decoded as unknown as readonly DecodedExportedVariable[]);
    expect(parsed).toEqual(parseExport(document).variables);
    expect(Object.is((parsed[4]!.value as number[])[1], -0)).toBe(true);
    expect(Number.isNaN(parsed[0]!.value)).toBe(true);
    expect(Object.isFrozen(parsed[1])).toBe(true);
  });

  it("refuses with invalid_export naming the first problem, as parseExport does", () => {
    const entries = variables.map((entry) => ({ ...entry }));
    const messageOf = (edit: (list: Record<string, unknown>[]) => void): string => {
      const copy = entries.map((entry) => ({ ...entry })) as Record<string, unknown>[];
      edit(copy);
      try {
        parseExportedVariables(copy as never);
      } catch (error) {
        if (isStateError(error, "invalid_export")) return error.message;
        throw error;
      }
      throw new Error("parseExportedVariables accepted the variables");
    };
    expect(
      messageOf((list) => {
        list[1]!.value = 101;
        list[2]!.value = 3;
      }),
    ).toMatch(/^invalid_export: variables\[1\]\.value: .*above max 100/);
    expect(messageOf((list) => (list[3]!.value = "yes"))).toMatch(/^invalid_export: variables\[3\]\.value: /);
    expect(messageOf((list) => (list[4]!.name = "nan"))).toMatch(/variables\[4\]\.name "nan" appears twice/);
    expect(messageOf((list) => (list[5]!.id = list[0]!.id))).toMatch(
      /variables\[5\]\.id var_\w+ appears twice/,
    );
    expect(messageOf((list) => (list[0]!.version = -1))).toMatch(
      /variables\[0\]\.version must be a non-negative integer/,
    );
    expect(messageOf((list) => (list[2]!.metadata = 5))).toMatch(
      /^invalid_export: variables\[2\]\.metadata: /,
    );
    expect(messageOf((list) => (list[2]!.constraints = { maxLength: -1 }))).toMatch(
      /^invalid_export: variables\[2\]\.constraints: /,
    );
  });
});
