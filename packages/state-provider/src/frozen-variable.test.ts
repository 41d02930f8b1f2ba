import { describe, expect, it } from "vitest";
import { freezeVariable, nextVariableVersion } from "./frozen-variable.js";
import type { Metadata } from "./variable.js";

const NO_METADATA: Metadata = Object.freeze(Object.create(null) as Metadata);

describe("freezeVariable", () => {
  it("builds a frozen variable whose fields always come in one order", () => {
    const variable = freezeVariable("var_1", "a", "integer", 1, {}, NO_METADATA, 0, 10, 10, "test");
    expect(Object.isFrozen(variable)).toBe(true);
    expect(Object.keys(variable)).toEqual([
      "id",
      "name",
      "type",
      "value",
      "constraints",
      "metadata",
      "version",
      "createdAt",
      "updatedAt",
      "source",
    ]);
  });
});

describe("nextVariableVersion", () => {
  it("writes value, metadata, time and source as the next version, keeping id, name, type, constraints and creation", () => {
    const constraints = Object.freeze({ min: 0 });
    const current = freezeVariable("var_1", "a", "integer", 1, constraints, NO_METADATA, 4, 10, 20, "old");
    const metadata: Metadata = Object.freeze({ step: 1 });
    const next = nextVariableVersion(current, 2, metadata, 30, "new");
    expect(next).toEqual({
      id: "var_1",
      name: "a",
      type: "integer",
      value: 2,
      constraints,
      metadata,
      version: 5,
      createdAt: 10,
      updatedAt: 30,
      source: "new",
    });
    expect(Object.keys(next)).toEqual(Object.keys(current));
    expect(Object.isFrozen(next)).toBe(true);
    expect(current.version).toBe(4);
  });
});
