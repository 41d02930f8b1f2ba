import type { Variable } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore, SessionStoreOptions } from "../types.js";
import type { StoreSuiteContext } from "./context.js";

/** The error code `action` fails with. */
async function codeOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (typeof error === "object" && error !== null && "code" in error) return String(error.code);
    throw error;
  }
  throw new Error("expected the action to fail");
}

/** Variables: register, get, set, compare-and-set, list, delete, and the per-session quotas. */
export function describeVariables(context: StoreSuiteContext): void {
  async function withSession(options: SessionStoreOptions = {}): Promise<SessionStore> {
    const store = await context.open(options);
    await store.initializeSession("s");
    return store;
  }

  describe("variables: register", () => {
    it("stores a variable at version 0 and takes the next revision", async () => {
      const store = await withSession();
      const before = Date.now();
      const first = await store.register("s", "temperature", "float", 0.7, {
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
      });
      expect(first.variable.id).toMatch(/^var_[0-9a-f]{24}$/);
      expect(first.variable.createdAt).toBe(first.variable.updatedAt);
      expect(first.variable.createdAt).toBeGreaterThan(before - 60_000);
      expect(first.variable.constraints).toEqual({ min: 0, max: 2 });
      expect({ ...first.variable.metadata }).toEqual({ unit: "none", description: "sampling temperature" });
      expect(await store.getVariable("s", "temperature")).toEqual(first.variable);
      expect((await store.register("s", "other", "integer", 1)).revision).toBe(2);
      expect(await store.getSession("s")).toMatchObject({ revision: 2, variableCount: 2 });
    });

    it("without a source, the variable's source is unknown", async () => {
      const store = await withSession();
      expect((await store.register("s", "x", "string", "a")).variable.source).toBe("unknown");
      expect((await store.register("s", "y", "string", "a", { source: "" })).variable.source).toBe("unknown");
    });

    it("a duplicate name is already_exists and changes nothing", async () => {
      const store = await withSession();
      await store.register("s", "x", "integer", 1);
      await expectStateError(() => store.register("s", "x", "integer", 2), "already_exists");
      // As in LocalState, the type is checked before the name's availability.
      await expectStateError(() => store.register("s", "x", "decimal", 2), "invalid_type");
      expect((await store.getVariable("s", "x")).value).toBe(1);
      expect((await store.getSession("s")).revision).toBe(1);
    });

    it("refuses what the shared type system refuses, with its codes, and changes nothing", async () => {
      const store = await withSession();
      const cases: [string, () => Promise<unknown>][] = [
        ["invalid_value", () => store.register("s", "", "float", 1)],
        ["invalid_value", () => store.register("s", "var_0123456789abcdef01234567", "float", 1)],
        ["invalid_type", () => store.register("s", "x", "decimal", 1)],
        ["invalid_value", () => store.register("s", "x", "boolean", "true")],
        ["invalid_value", () => store.register("s", "x", "integer", 1.5)],
        ["invalid_value", () => store.register("s", "x", "integer", 2 ** 53)],
        ["constraint_violation", () => store.register("s", "x", "float", 3, { constraints: { max: 2 } })],
        ["invalid_value", () => store.register("s", "x", "float", 1, { constraints: { length: 2 } })],
        ["invalid_value", () => store.register("s", "x", "choice", "a")],
        ["invalid_value", () => store.register("s", "x", "float", 1, { metadata: { bad: Number.NaN } })],
        [
          "invalid_value",
          () => store.register("s", "x", "float", 1, { description: 5 as unknown as string }),
        ],
        ["invalid_value", () => store.register("s", "x", "float", 1, { source: 5 as unknown as string })],
      ];
      for (const [code, action] of cases) expect(await codeOf(action)).toBe(code);
      expect(await store.getSession("s")).toMatchObject({ revision: 0, variableCount: 0 });
    });

    it("normalizes values as LocalState does: embeddings as arrays, whole floats as integers, NaN kept", async () => {
      const store = await withSession();
      await store.register("s", "e", "embedding", new Float32Array([1, 2, 3]));
      expect((await store.getVariable("s", "e")).value).toEqual([1, 2, 3]);
      await store.register("s", "i", "integer", 4.0);
      expect((await store.getVariable("s", "i")).value).toBe(4);
      await store.register("s", "t", "tensor", { shape: [2, 2], data: [1, 2, 3, 4] });
      expect((await store.getVariable("s", "t")).value).toEqual({ shape: [2, 2], data: [1, 2, 3, 4] });
      await store.register("s", "n", "float", Number.NaN);
      expect((await store.getVariable("s", "n")).value).toBeNaN();
      await store.register("s", "z", "embedding", [-0, 1e308, -1e-308]);
      const zero = (await store.getVariable("s", "z")).value as number[];
      expect(Object.is(zero[0], -0)).toBe(true);
      expect(zero.slice(1)).toEqual([1e308, -1e-308]);
      await store.register("s", "u", "string", "é\u{1F600}\0");
      expect((await store.getVariable("s", "u")).value).toBe("é\u{1F600}\0");
    });

    it("a name like __proto__ is plain data", async () => {
      const store = await withSession();
      await store.register("s", "__proto__", "string", "safe");
      expect((await store.getVariable("s", "__proto__")).value).toBe("safe");
      expect((await store.list("s")).map((variable) => variable.name)).toEqual(["__proto__"]);
    });
  });

  describe("variables: get", () => {
    it("getVariable() finds a variable by name and by id; unknown is not_found", async () => {
      const store = await withSession();
      const { variable } = await store.register("s", "x", "integer", 1);
      expect(await store.getVariable("s", "x")).toEqual(variable);
      expect(await store.getVariable("s", variable.id)).toEqual(variable);
      const error = await expectStateError(() => store.getVariable("s", "y"), "not_found");
      expect(error.message).toBe('not_found: variable "y" not found in session "s"');
      await expectStateError(() => store.getVariable("s", "var_000000000000000000000000"), "not_found");
      await expectStateError(() => store.getVariable("s", 5 as unknown as string), "not_found");
    });

    it("getVariables() keys found variables by the identifier given and skips missing ones", async () => {
      const store = await withSession();
      const { variable: x } = await store.register("s", "x", "integer", 1);
      await store.register("s", "y", "integer", 2);
      const found = await store.getVariables("s", ["y", x.id, "missing"]);
      expect([...found.keys()]).toEqual(["y", x.id]);
      expect(found.get(x.id)?.value).toBe(1);
      expect(found.get("y")?.value).toBe(2);
    });
  });

  describe("variables: set and compare-and-set", () => {
    it("bumps the version by one on every write, also to an equal value, and takes a revision", async () => {
      const store = await withSession();
      const { variable } = await store.register("s", "x", "integer", 1);
      expect(await store.set("s", "x", 2)).toEqual({ version: 1, revision: 2 });
      expect(await store.set("s", "x", 2, { source: "python" })).toEqual({ version: 2, revision: 3 });
      const after = await store.getVariable("s", "x");
      expect(after).toMatchObject({ value: 2, version: 2, source: "python", createdAt: variable.createdAt });
      expect(after.updatedAt).toBeGreaterThanOrEqual(variable.updatedAt);
    });

    it("merges metadata into the variable's", async () => {
      const store = await withSession();
      await store.register("s", "x", "integer", 1, { metadata: { a: 1, b: 1 } });
      await store.set("s", "x", 2, { metadata: { b: 2, c: 3 } });
      expect({ ...(await store.getVariable("s", "x")).metadata }).toEqual({ a: 1, b: 2, c: 3 });
    });

    it("with a stale expectedVersion fails with version_conflict and changes nothing", async () => {
      const store = await withSession();
      await store.register("s", "x", "integer", 1);
      await store.set("s", "x", 2);
      const error = await expectStateError(
        () => store.set("s", "x", 3, { expectedVersion: 0 }),
        "version_conflict",
      );
      expect(error.message).toContain('"x" is at version 1, expected 0');
      expect(await store.getVariable("s", "x")).toMatchObject({ value: 2, version: 1 });
      expect((await store.getSession("s")).revision).toBe(2);
      expect(await store.set("s", "x", 3, { expectedVersion: 1 })).toEqual({ version: 2, revision: 3 });
    });

    it("of concurrent writers expecting the same version, exactly one wins", async () => {
      const store = await withSession();
      await store.register("s", "x", "integer", 0);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) => store.set("s", "x", index + 1, { expectedVersion: 0 })),
      );
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ code: "version_conflict" });
      }
      expect(await store.getVariable("s", "x")).toMatchObject({ version: 1 });
      expect((await store.getSession("s")).revision).toBe(2);
    });

    it("refuses a malformed expectedVersion, value or metadata without changing anything", async () => {
      const store = await withSession();
      await store.register("s", "x", "integer", 1, { constraints: { max: 10 } });
      expect(await codeOf(() => store.set("s", "x", 2, { expectedVersion: -1 }))).toBe("invalid_value");
      expect(await codeOf(() => store.set("s", "x", "2"))).toBe("invalid_value");
      expect(await codeOf(() => store.set("s", "x", 11))).toBe("constraint_violation");
      expect(await codeOf(() => store.set("s", "x", 2, { metadata: "m" }))).toBe("invalid_value");
      expect(await codeOf(() => store.set("s", "missing", 2))).toBe("not_found");
      // As in LocalState, a stale expectedVersion is reported before the value is checked.
      expect(await codeOf(() => store.set("s", "x", "2", { expectedVersion: 3 }))).toBe("version_conflict");
      expect(await store.getVariable("s", "x")).toMatchObject({ value: 1, version: 0 });
      expect((await store.getSession("s")).revision).toBe(1);
    });
  });

  describe("variables: list and delete", () => {
    it("list() returns variables in creation order, filtered by an anchored glob", async () => {
      const store = await withSession();
      for (const name of ["model.a", "model.b", "temperature", "x.model.c", "model*"]) {
        await store.register("s", name, "integer", 1);
      }
      const names = async (pattern?: string) =>
        (await store.list("s", pattern)).map((variable: Variable) => variable.name);
      expect(await names()).toEqual(["model.a", "model.b", "temperature", "x.model.c", "model*"]);
      expect(await names("model.*")).toEqual(["model.a", "model.b"]);
      expect(await names("model\\*")).toEqual(["model*"]);
      expect(await names("temp")).toEqual([]);
      expect(await names("model.?")).toEqual(["model.a", "model.b"]);
      expect(await codeOf(() => store.list("s", 5 as unknown as string))).toBe("invalid_value");
    });

    it("delete() removes the variable, takes a revision, and frees its name", async () => {
      const store = await withSession();
      const { variable } = await store.register("s", "x", "integer", 1);
      expect(await store.delete("s", variable.id)).toEqual({ revision: 2 });
      await expectStateError(() => store.getVariable("s", "x"), "not_found");
      await expectStateError(() => store.delete("s", "x"), "not_found");
      const again = (await store.register("s", "x", "integer", 5)).variable;
      expect(again.id).not.toBe(variable.id);
      expect(again.version).toBe(0);
      expect(await store.getSession("s")).toMatchObject({ revision: 3, variableCount: 1 });
    });
  });

  describe("variables: quotas", () => {
    it("maxVariablesPerSession refuses a registration with resource_exhausted", async () => {
      const store = await withSession({ maxVariablesPerSession: 2 });
      await store.register("s", "a", "integer", 1);
      await store.register("s", "b", "integer", 1);
      const error = await expectStateError(
        () => store.register("s", "c", "integer", 1),
        "resource_exhausted",
      );
      expect(error.message).toBe(
        'resource_exhausted: session "s" holds 2 variables, the most allowed; cannot register "c"',
      );
      expect((await store.getSession("s")).revision).toBe(2);
      await store.delete("s", "a");
      expect((await store.register("s", "c", "integer", 1)).variable.name).toBe("c");
    });

    it("maxValueBytes counts 8 bytes per number and UTF-8 bytes of text", async () => {
      const store = await withSession({ maxValueBytes: 16 });
      await store.register("s", "e", "embedding", [1, 2]);
      expect(await codeOf(() => store.register("s", "e3", "embedding", [1, 2, 3]))).toBe(
        "resource_exhausted",
      );
      const error = await expectStateError(() => store.set("s", "e", [1, 2, 3]), "resource_exhausted");
      expect(error.message).toContain('"e" is 24 bytes, above the limit of 16 bytes per value');
      await store.register("s", "text", "string", "a".repeat(16));
      // Eight two-byte characters fit; nine do not, although they are fewer than 16 code units.
      await store.set("s", "text", "é".repeat(8));
      expect(await codeOf(() => store.set("s", "text", "é".repeat(9)))).toBe("resource_exhausted");
      expect(await codeOf(() => store.register("s", "t", "tensor", { shape: [3], data: [1, 2, 3] }))).toBe(
        "resource_exhausted",
      );
      expect(await codeOf(() => store.updateMany("s", new Map([["e", [1, 2, 3]]]), { atomic: true }))).toBe(
        "resource_exhausted",
      );
      expect((await store.getVariable("s", "e")).value).toEqual([1, 2]);
      expect((await store.getSession("s")).revision).toBe(3);
    });
  });
}
