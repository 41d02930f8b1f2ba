import { describe, expect, it } from "vitest";
import { ID_PATTERN } from "../identifiers.js";
import type { Metadata } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectSameValue, expectStateError, expectWallClock, revisionOf, stateOf } from "./support.js";

/**
 * Registers the tests of the basic operations: register, get, getVariable, set, getMany,
 * delete, metadata, versions, revisions, timestamps and source.
 */
export function describeVariables(context: ComplianceContext): void {
  describe("variables: register, read, write, delete", () => {
    it("register() returns an id of var_ and 24 hex digits, the name, the type, version 0 and a revision", async (test) => {
      const provider = await context.open(test);
      const registered = await provider.register("temperature", "float", 0.7);
      expect(registered.id).toMatch(ID_PATTERN);
      expect(registered.name).toBe("temperature");
      expect(registered.type).toBe("float");
      expect(registered.version).toBe(0);
      expect(Number.isSafeInteger(registered.revision) && registered.revision > 0).toBe(true);
      const other = await provider.register("max_tokens", "integer", 256);
      expect(other.id).not.toBe(registered.id);
    });

    it("every mutation takes the next session revision: register, set, updateMany, delete", async (test) => {
      const provider = await context.open(test);
      const first = await provider.register("a", "integer", 0);
      const second = await provider.register("b", "integer", 0);
      expect(second.revision).toBe(first.revision + 1);
      expect(await revisionOf(provider)).toBe(second.revision);
      await provider.set("a", 1);
      expect(await revisionOf(provider)).toBe(second.revision + 1);
      const batch = await provider.updateMany(
        new Map([
          ["a", 2],
          ["b", 3],
        ]),
      );
      expect(batch.revision).toBe(second.revision + 2);
      expect(await revisionOf(provider)).toBe(batch.revision);
      await provider.delete("b");
      expect(await revisionOf(provider)).toBe(batch.revision + 1);
      const third = await provider.register("c", "integer", 0);
      expect(third.revision).toBe(batch.revision + 2);
    });

    it("reads and failed calls do not take a revision", async (test) => {
      const provider = await context.open(test);
      const registered = await provider.register("a", "integer", 0, { constraints: { max: 10 } });
      await provider.get("a");
      await provider.getVariable("a");
      await provider.getMany(["a", "missing"]);
      await provider.list();
      await provider.export();
      await expectStateError(() => provider.set("a", 11), "constraint_violation");
      await expectStateError(() => provider.register("a", "integer", 0), "already_exists");
      expect(await revisionOf(provider)).toBe(registered.revision);
    });

    it("set() returns the next version, +1 on every successful set, also to an equal value", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "string", "same");
      expect(await provider.set("a", "same")).toBe(1);
      expect(await provider.set("a", "same")).toBe(2);
      expect(await provider.set("a", "other")).toBe(3);
      const variable = await provider.getVariable("a");
      expect(variable.version).toBe(3);
      expect(variable.value).toBe("other");
    });

    it("getVariable() returns the whole variable: type, value, constraints, metadata with description, version, timestamps, source", async (test) => {
      const provider = await context.open(test);
      const before = Date.now();
      const registered = await provider.register("temperature", "float", 0.7, {
        constraints: { min: 0, max: 2 },
        metadata: { owner: "optimizer", tags: ["a", "b"], nested: { depth: 1 } },
        description: "Sampling temperature",
      });
      const after = Date.now();
      const variable = await provider.getVariable("temperature");
      expect(variable.id).toBe(registered.id);
      expect(variable.name).toBe("temperature");
      expect(variable.type).toBe("float");
      expect(variable.value).toBe(0.7);
      expect({ ...variable.constraints }).toEqual({ min: 0, max: 2 });
      expect(variable.metadata.description).toBe("Sampling temperature");
      expect(variable.metadata.owner).toBe("optimizer");
      expect(variable.metadata.tags).toEqual(["a", "b"]);
      expect(variable.metadata.nested).toEqual({ depth: 1 });
      expect(variable.version).toBe(0);
      expectWallClock(variable.createdAt, before, after, "createdAt");
      expect(variable.updatedAt).toBe(variable.createdAt);
      expect(variable.source).toBe(context.source);
    });

    it("set() updates updatedAt and source, keeps createdAt; timestamps are wall-clock", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0);
      const registered = await provider.getVariable("a");
      const before = Date.now();
      await provider.set("a", 1);
      const after = Date.now();
      const variable = await provider.getVariable("a");
      expect(variable.createdAt).toBe(registered.createdAt);
      expect(variable.updatedAt).toBeGreaterThanOrEqual(registered.createdAt);
      expectWallClock(variable.updatedAt, before, after, "updatedAt");
      expect(variable.source).toBe(context.source);
    });

    it("set() merges metadata: keys it names are replaced, the others stay", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0, { metadata: { keep: 1, replace: "old" }, description: "d" });
      await provider.set("a", 1, { metadata: { replace: "new", added: [1, 2] } });
      const variable = await provider.getVariable("a");
      expect({ ...variable.metadata }).toEqual({ keep: 1, replace: "new", added: [1, 2], description: "d" });
      await provider.set("a", 2);
      expect({ ...(await provider.getVariable("a")).metadata }).toEqual({ ...variable.metadata });
    });

    it("metadata keys such as __proto__, constructor and toString are plain data", async (test) => {
      const provider = await context.open(test);
      const metadata = JSON.parse(
        '{"__proto__": {"polluted": true}, "constructor": "c", "toString": 5}',
      ) as Metadata;
      await provider.register("a", "integer", 0, { metadata });
      const variable = await provider.getVariable("a");
      expect(Object.keys(variable.metadata).sort()).toEqual(["__proto__", "constructor", "toString"]);
      expect(Object.getOwnPropertyDescriptor(variable.metadata, "__proto__")?.value).toEqual({
        polluted: true,
      });
      expect(variable.metadata.constructor).toBe("c");
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it("metadata that is not JSON-compatible is refused with invalid_value and nothing changes", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0, { metadata: { keep: true } });
      const before = await stateOf(provider);
      const invalid: ReadonlyArray<readonly [string, unknown]> = [
        ["NaN", { x: Number.NaN }],
        ["Infinity", { x: Number.POSITIVE_INFINITY }],
        ["a function", { x: () => 1 }],
        ["a Date", { x: new Date(0) }],
        ["a Map", { x: new Map() }],
        ["a bigint", { x: 1n }],
        ["an array at the top", [1, 2]],
        ["a string at the top", "text"],
      ];
      for (const [label, metadata] of invalid) {
        await expectStateError(
          () => provider.register(`b_${label}`, "integer", 0, { metadata: metadata as Metadata }),
          "invalid_value",
          `register() with ${label} in metadata`,
        );
        await expectStateError(
          () => provider.set("a", 1, { metadata: metadata as Metadata }),
          "invalid_value",
          `set() with ${label} in metadata`,
        );
      }
      expect(await stateOf(provider)).toBe(before);
    });

    it("getMany() returns the values found, keyed by the identifier as given; missing ones are skipped", async (test) => {
      const provider = await context.open(test);
      const a = await provider.register("a", "integer", 1);
      await provider.register("b", "string", "two");
      const values = await provider.getMany(["a", a.id, "b", "missing", "var_000000000000000000000000"]);
      expect(values).toBeInstanceOf(Map);
      expect([...values.keys()].sort()).toEqual(["a", "b", a.id].sort());
      expect(values.get("a")).toBe(1);
      expect(values.get(a.id)).toBe(1);
      expect(values.get("b")).toBe("two");
      expect((await provider.getMany([])).size).toBe(0);
    });

    it("delete() removes the variable; the name can then be registered again and gets a new id", async (test) => {
      const provider = await context.open(test);
      const first = await provider.register("a", "integer", 1);
      await provider.register("b", "integer", 2);
      await provider.delete("a");
      await expectStateError(() => provider.get("a"), "not_found");
      await expectStateError(() => provider.get(first.id), "not_found");
      await expectStateError(() => provider.delete("a"), "not_found");
      expect((await provider.list()).map((variable) => variable.name)).toEqual(["b"]);
      const again = await provider.register("a", "string", "new");
      expect(again.id).not.toBe(first.id);
      expect(again.version).toBe(0);
      expect(await provider.get("a")).toBe("new");
    });

    it("operations on a variable that does not exist fail with not_found", async (test) => {
      const provider = await context.open(test);
      await provider.register("present", "integer", 0);
      const before = await stateOf(provider);
      for (const identifier of ["missing", "var_0123456789abcdef01234567"]) {
        await expectStateError(() => provider.get(identifier), "not_found", `get(${identifier})`);
        await expectStateError(
          () => provider.getVariable(identifier),
          "not_found",
          `getVariable(${identifier})`,
        );
        await expectStateError(() => provider.set(identifier, 1), "not_found", `set(${identifier})`);
        await expectStateError(() => provider.delete(identifier), "not_found", `delete(${identifier})`);
      }
      expect(await stateOf(provider)).toBe(before);
    });

    it("a value read back through get, getVariable, getMany and list is the value written", async (test) => {
      const provider = await context.open(test);
      await provider.register("vector", "embedding", [0.25, -1.5, 3]);
      await provider.set("vector", [1, 2, 3.5]);
      const expected = [1, 2, 3.5];
      expectSameValue(await provider.get("vector"), expected, "get");
      expectSameValue((await provider.getVariable("vector")).value, expected, "getVariable");
      expectSameValue((await provider.getMany(["vector"])).get("vector"), expected, "getMany");
      expectSameValue((await provider.list())[0]?.value, expected, "list");
    });

    it("stored arrays and tensors are frozen copies: changing the caller's input later changes nothing", async (test) => {
      const provider = await context.open(test);
      const vector = [1, 2, 3];
      const tensor = { shape: [2], data: [4, 5] };
      await provider.register("vector", "embedding", vector);
      await provider.register("tensor", "tensor", tensor);
      vector[0] = 100;
      tensor.data[0] = 100;
      tensor.shape[0] = 1;
      const storedVector = await provider.get("vector");
      const storedTensor = await provider.get("tensor");
      expectSameValue(storedVector, [1, 2, 3]);
      expectSameValue(storedTensor, { shape: [2], data: [4, 5] });
      expect(Object.isFrozen(storedVector)).toBe(true);
      expect(Object.isFrozen(storedTensor)).toBe(true);
      const { shape, data } = storedTensor as { shape: number[]; data: number[] };
      expect(Object.isFrozen(shape) && Object.isFrozen(data)).toBe(true);
    });
  });
}
