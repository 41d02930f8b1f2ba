import { isStateError, type Variable } from "@statebridge/state-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "../src/index.js";
import { manualClock } from "./recording-listener.js";

let store: SessionStore;
const clock = manualClock();

beforeEach(() => {
  store = createSessionStore({ now: clock.now });
  store.initializeSession("s");
});

afterEach(() => store.close());

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isStateError(error)) return error.code;
    throw error;
  }
  throw new Error("expected the action to throw");
}

describe("register", () => {
  it("stores a frozen variable at version 0 and takes the next revision", () => {
    const first = store.register("s", "temperature", "float", 0.7, {
      constraints: { min: 0, max: 2 },
      metadata: { unit: "none" },
      description: "sampling temperature",
      source: "python",
    });
    expect(first.revision).toBe(1);
    expect(first.variable).toMatchObject({
      name: "temperature",
      type: "float",
      value: 0.7,
      version: 0,
      source: "python",
      createdAt: clock.now(),
      updatedAt: clock.now(),
    });
    expect(first.variable.id).toMatch(/^var_[0-9a-f]{24}$/);
    expect(first.variable.constraints).toEqual({ min: 0, max: 2 });
    expect({ ...first.variable.metadata }).toEqual({ unit: "none", description: "sampling temperature" });
    expect(Object.isFrozen(first.variable)).toBe(true);
    expect(store.register("s", "other", "integer", 1).revision).toBe(2);
    expect(store.getSession("s")).toMatchObject({ revision: 2, variableCount: 2 });
  });

  it("without a source, the variable's source is unknown", () => {
    expect(store.register("s", "x", "string", "a").variable.source).toBe("unknown");
    expect(store.register("s", "y", "string", "a", { source: "" }).variable.source).toBe("unknown");
  });

  it("a duplicate name is already_exists and changes nothing", () => {
    store.register("s", "x", "integer", 1);
    expect(codeOf(() => store.register("s", "x", "integer", 2))).toBe("already_exists");
    // As in LocalState, the type is checked before the name's availability.
    expect(codeOf(() => store.register("s", "x", "decimal", 2))).toBe("invalid_type");
    expect(store.getVariable("s", "x").value).toBe(1);
    expect(store.getSession("s").revision).toBe(1);
  });

  it("refuses what the shared type system refuses, with its codes", () => {
    expect(codeOf(() => store.register("s", "", "float", 1))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "var_0123456789abcdef01234567", "float", 1))).toBe(
      "invalid_value",
    );
    expect(codeOf(() => store.register("s", "x", "decimal", 1))).toBe("invalid_type");
    expect(codeOf(() => store.register("s", "x", "boolean", "true"))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "x", "boolean", 1))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "x", "integer", 1.5))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "x", "integer", 2 ** 53))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "x", "float", 3, { constraints: { max: 2 } }))).toBe(
      "constraint_violation",
    );
    expect(codeOf(() => store.register("s", "x", "float", 1, { constraints: { length: 2 } }))).toBe(
      "invalid_value",
    );
    expect(codeOf(() => store.register("s", "x", "choice", "a"))).toBe("invalid_value");
    expect(codeOf(() => store.register("s", "x", "float", 1, { metadata: { bad: Number.NaN } }))).toBe(
      "invalid_value",
    );
    expect(codeOf(() => store.register("s", "x", "float", 1, { description: 5 as unknown as string }))).toBe(
      "invalid_value",
    );
    expect(codeOf(() => store.register("s", "x", "float", 1, { source: 5 as unknown as string }))).toBe(
      "invalid_value",
    );
    expect(store.getSession("s")).toMatchObject({ revision: 0, variableCount: 0 });
  });

  it("normalizes values as LocalState does: embeddings frozen, whole floats become integers", () => {
    const embedding = store.register("s", "e", "embedding", new Float32Array([1, 2, 3])).variable;
    expect(embedding.value).toEqual([1, 2, 3]);
    expect(Object.isFrozen(embedding.value)).toBe(true);
    expect(store.register("s", "i", "integer", 4.0).variable.value).toBe(4);
    const tensor = store.register("s", "t", "tensor", { shape: [2, 2], data: [1, 2, 3, 4] }).variable;
    expect(tensor.value).toEqual({ shape: [2, 2], data: [1, 2, 3, 4] });
    expect(store.register("s", "n", "float", Number.NaN).variable.value).toBeNaN();
  });

  it("a name like __proto__ is plain data", () => {
    store.register("s", "__proto__", "string", "safe");
    expect(store.getVariable("s", "__proto__").value).toBe("safe");
    expect(store.list("s").map((variable) => variable.name)).toEqual(["__proto__"]);
  });
});

describe("get", () => {
  it("getVariable() finds a variable by name and by id; unknown is not_found", () => {
    const { variable } = store.register("s", "x", "integer", 1);
    expect(store.getVariable("s", "x")).toBe(variable);
    expect(store.getVariable("s", variable.id)).toBe(variable);
    expect(codeOf(() => store.getVariable("s", "y"))).toBe("not_found");
    expect(codeOf(() => store.getVariable("s", "var_000000000000000000000000"))).toBe("not_found");
    expect(() => store.getVariable("s", "y")).toThrow('not_found: variable "y" not found in session "s"');
  });

  it("getVariables() keys found variables by the identifier given and skips missing ones", () => {
    const { variable: x } = store.register("s", "x", "integer", 1);
    store.register("s", "y", "integer", 2);
    const found = store.getVariables("s", ["y", x.id, "missing"]);
    expect([...found.keys()]).toEqual(["y", x.id]);
    expect(found.get(x.id)?.value).toBe(1);
  });
});

describe("set", () => {
  it("bumps the version by one on every write, also to an equal value, and takes a revision", () => {
    store.register("s", "x", "integer", 1);
    clock.advance(5);
    expect(store.set("s", "x", 2)).toEqual({ version: 1, revision: 2 });
    expect(store.set("s", "x", 2, { source: "python" })).toEqual({ version: 2, revision: 3 });
    const variable = store.getVariable("s", "x");
    expect(variable).toMatchObject({ value: 2, version: 2, source: "python", updatedAt: clock.now() });
    expect(variable.createdAt).toBe(clock.now() - 5);
  });

  it("merges metadata into the variable's", () => {
    store.register("s", "x", "integer", 1, { metadata: { a: 1, b: 1 } });
    store.set("s", "x", 2, { metadata: { b: 2, c: 3 } });
    expect({ ...store.getVariable("s", "x").metadata }).toEqual({ a: 1, b: 2, c: 3 });
  });

  it("with a stale expectedVersion fails with version_conflict and changes nothing", () => {
    store.register("s", "x", "integer", 1);
    store.set("s", "x", 2);
    expect(codeOf(() => store.set("s", "x", 3, { expectedVersion: 0 }))).toBe("version_conflict");
    expect(() => store.set("s", "x", 3, { expectedVersion: 0 })).toThrow('"x" is at version 1, expected 0');
    expect(store.getVariable("s", "x")).toMatchObject({ value: 2, version: 1 });
    expect(store.getSession("s").revision).toBe(2);
    expect(store.set("s", "x", 3, { expectedVersion: 1 })).toEqual({ version: 2, revision: 3 });
  });

  it("refuses a malformed expectedVersion, value or metadata without changing anything", () => {
    store.register("s", "x", "integer", 1, { constraints: { max: 10 } });
    expect(codeOf(() => store.set("s", "x", 2, { expectedVersion: -1 }))).toBe("invalid_value");
    expect(codeOf(() => store.set("s", "x", "2"))).toBe("invalid_value");
    expect(codeOf(() => store.set("s", "x", 11))).toBe("constraint_violation");
    expect(codeOf(() => store.set("s", "x", 2, { metadata: "m" }))).toBe("invalid_value");
    expect(codeOf(() => store.set("s", "missing", 2))).toBe("not_found");
    expect(codeOf(() => store.getVariable("s", 5 as unknown as string))).toBe("not_found");
    // As in LocalState, a stale expectedVersion is reported before the value is checked.
    expect(codeOf(() => store.set("s", "x", "2", { expectedVersion: 3 }))).toBe("version_conflict");
    expect(store.getVariable("s", "x")).toMatchObject({ value: 1, version: 0 });
    expect(store.getSession("s").revision).toBe(1);
  });

  it("writing one variable of a 100,000-variable session leaves every other Variable object as it was", () => {
    const big = createSessionStore();
    big.initializeSession("big");
    for (let index = 0; index < 100_000; index++) big.register("big", `v${index}`, "integer", index);
    const before = big.list("big");
    big.set("big", "v50000", -1);
    big.updateMany("big", new Map([["v7", -7]]));
    const after = big.list("big");
    expect(after).toHaveLength(100_000);
    let same = 0;
    for (let index = 0; index < after.length; index++) if (after[index] === before[index]) same++;
    expect(same).toBe(99_998);
    expect(after[50_000]).not.toBe(before[50_000]);
    expect(after[50_000]?.value).toBe(-1);
    expect(before[50_000]?.value).toBe(50_000);
    big.close();
  });
});

describe("list and delete", () => {
  it("list() returns variables in creation order, filtered by an anchored glob", () => {
    for (const name of ["model.a", "model.b", "temperature", "x.model.c", "model*"]) {
      store.register("s", name, "integer", 1);
    }
    const names = (pattern?: string) => store.list("s", pattern).map((variable: Variable) => variable.name);
    expect(names()).toEqual(["model.a", "model.b", "temperature", "x.model.c", "model*"]);
    expect(names("model.*")).toEqual(["model.a", "model.b"]);
    expect(names("model\\*")).toEqual(["model*"]);
    expect(names("temp")).toEqual([]);
    expect(names("model.?")).toEqual(["model.a", "model.b"]);
    expect(codeOf(() => store.list("s", 5 as unknown as string))).toBe("invalid_value");
  });

  it("delete() removes the variable, takes a revision, and frees its name", () => {
    const { variable } = store.register("s", "x", "integer", 1);
    expect(store.delete("s", variable.id)).toEqual({ revision: 2 });
    expect(codeOf(() => store.getVariable("s", "x"))).toBe("not_found");
    expect(codeOf(() => store.delete("s", "x"))).toBe("not_found");
    const again = store.register("s", "x", "integer", 5).variable;
    expect(again.id).not.toBe(variable.id);
    expect(again.version).toBe(0);
    expect(store.getSession("s")).toMatchObject({ revision: 3, variableCount: 1 });
  });
});

describe("quotas", () => {
  it("maxVariablesPerSession refuses a registration with resource_exhausted", () => {
    const limited = createSessionStore({ maxVariablesPerSession: 2 });
    limited.initializeSession("s");
    limited.register("s", "a", "integer", 1);
    limited.register("s", "b", "integer", 1);
    expect(() => limited.register("s", "c", "integer", 1)).toThrow(
      'resource_exhausted: session "s" holds 2 variables, the most allowed; cannot register "c"',
    );
    limited.delete("s", "a");
    expect(limited.register("s", "c", "integer", 1).variable.name).toBe("c");
    limited.close();
  });

  it("maxValueBytes counts 8 bytes per number and UTF-8 bytes of text", () => {
    const limited = createSessionStore({ maxValueBytes: 16 });
    limited.initializeSession("s");
    limited.register("s", "e", "embedding", [1, 2]);
    expect(codeOf(() => limited.register("s", "e3", "embedding", [1, 2, 3]))).toBe("resource_exhausted");
    expect(() => limited.set("s", "e", [1, 2, 3])).toThrow(
      '"e" is 24 bytes, above the limit of 16 bytes per value',
    );
    limited.register("s", "text", "string", "a".repeat(16));
    // Eight two-byte characters fit; nine do not, although they are fewer than 16 code units.
    limited.set("s", "text", "é".repeat(8));
    expect(codeOf(() => limited.set("s", "text", "é".repeat(9)))).toBe("resource_exhausted");
    expect(codeOf(() => limited.register("s", "t", "tensor", { shape: [3], data: [1, 2, 3] }))).toBe(
      "resource_exhausted",
    );
    expect(codeOf(() => limited.updateMany("s", new Map([["e", [1, 2, 3]]]), { atomic: true }))).toBe(
      "resource_exhausted",
    );
    expect(limited.getVariable("s", "e").value).toEqual([1, 2]);
    limited.close();
  });
});
