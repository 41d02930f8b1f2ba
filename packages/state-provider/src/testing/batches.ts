import { describe, expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, revisionOf, stateOf } from "./support.js";

async function registerThree(provider: StateProvider): Promise<{ readonly bId: string }> {
  await provider.register("a", "integer", 1, { constraints: { min: 0, max: 100 } });
  const b = await provider.register("b", "string", "one");
  await provider.register("c", "float", 0.5);
  return { bId: b.id };
}

/**
 * Registers the tests of `updateMany()`: atomic batches are all or nothing in one revision;
 * non-atomic batches apply what validates in one revision and report the rest in a
 * `partial_failure`.
 */
export function describeBatches(context: ComplianceContext): void {
  describe("batches: updateMany()", () => {
    it("an atomic batch applies every update in one revision and returns each new version keyed as given (capabilities.atomicUpdates)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "atomicUpdates");
      const { bId } = await registerThree(provider);
      await provider.set("a", 2);
      const revision = await revisionOf(provider);
      const result = await provider.updateMany(
        new Map<string, unknown>([
          ["a", 3],
          [bId, "two"],
          ["c", Number.NaN],
        ]),
        { atomic: true },
      );
      expect(result.revision).toBe(revision + 1);
      expect(await revisionOf(provider)).toBe(revision + 1);
      expect(result.versions).toBeInstanceOf(Map);
      expect([...result.versions.entries()].sort()).toEqual(
        [
          ["a", 2],
          [bId, 1],
          ["c", 1],
        ].sort(),
      );
      expect(await provider.get("a")).toBe(3);
      expect(await provider.get("b")).toBe("two");
      expect(Number.isNaN(await provider.get("c"))).toBe(true);
    });

    it("a failing atomic batch changes nothing and fails with the failing update's own code (capabilities.atomicUpdates)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "atomicUpdates");
      await registerThree(provider);
      const before = await stateOf(provider);
      const failing = [
        [
          "a value its constraints refuse",
          "constraint_violation",
          new Map<string, unknown>([
            ["b", "two"],
            ["a", 101],
            ["c", 1],
          ]),
        ],
        [
          "a value of the wrong kind",
          "invalid_value",
          new Map<string, unknown>([
            ["b", "two"],
            ["a", 3],
            ["c", "x"],
          ]),
        ],
        [
          "a missing variable",
          "not_found",
          new Map<string, unknown>([
            ["b", "two"],
            ["missing", 1],
          ]),
        ],
      ] as const;
      for (const [label, code, updates] of failing) {
        await expectStateError(
          () => provider.updateMany(updates, { atomic: true }),
          code,
          `an atomic batch with ${label}`,
        );
        expect(await stateOf(provider), `nothing changed after an atomic batch with ${label}`).toBe(before);
      }
      expect(await provider.get("b")).toBe("one");
    });

    it("a non-atomic batch that fully validates applies everything in one revision", async (test) => {
      const provider = await context.open(test);
      await registerThree(provider);
      const revision = await revisionOf(provider);
      const result = await provider.updateMany({ a: 5, b: "five", c: 5.5 });
      expect(result.revision).toBe(revision + 1);
      expect(await revisionOf(provider)).toBe(revision + 1);
      expect(result.versions.get("a")).toBe(1);
      expect(await provider.get("b")).toBe("five");
    });

    it("a non-atomic batch applies what validates in one revision and fails with partial_failure naming each failure and each applied update", async (test) => {
      const provider = await context.open(test);
      const { bId } = await registerThree(provider);
      const revision = await revisionOf(provider);
      const error = await expectStateError(
        () =>
          provider.updateMany(
            new Map<string, unknown>([
              ["a", 500],
              [bId, "two"],
              ["c", "not a float"],
              ["missing", 1],
            ]),
          ),
        "partial_failure",
      );
      expect(error.failures).toBeInstanceOf(Map);
      expect([...error.failures.keys()].sort()).toEqual(["a", "c", "missing"]);
      expect(error.failures.get("a")?.code).toBe("constraint_violation");
      expect(error.failures.get("c")?.code).toBe("invalid_value");
      expect(error.failures.get("missing")?.code).toBe("not_found");
      for (const failure of error.failures.values()) expect(failure.message.length).toBeGreaterThan(0);
      expect(error.applied).toBeInstanceOf(Map);
      expect([...error.applied.entries()]).toEqual([[bId, 1]]);
      expect(await revisionOf(provider)).toBe(revision + 1);
      expect(await provider.get("b")).toBe("two");
      expect(await provider.get("a")).toBe(1);
      expect(await provider.get("c")).toBe(0.5);
      expect((await provider.getVariable("a")).version).toBe(0);
    });

    it("a non-atomic batch in which everything fails changes nothing and reports every failure", async (test) => {
      const provider = await context.open(test);
      await registerThree(provider);
      const values = async () => [...(await provider.getMany(["a", "b", "c"])).entries()];
      const before = await values();
      const error = await expectStateError(
        () =>
          provider.updateMany(
            new Map<string, unknown>([
              ["a", -1],
              ["b", 2],
            ]),
          ),
        "partial_failure",
      );
      expect([...error.failures.keys()].sort()).toEqual(["a", "b"]);
      expect(error.applied.size).toBe(0);
      expect(await values()).toEqual(before);
    });

    it("updateMany() merges its metadata into every updated variable", async (test) => {
      const provider = await context.open(test);
      await registerThree(provider);
      await provider.updateMany(
        new Map<string, unknown>([
          ["a", 2],
          ["b", "x"],
        ]),
        {
          atomic: provider.capabilities.atomicUpdates,
          metadata: { batch: "nightly" },
        },
      );
      expect((await provider.getVariable("a")).metadata.batch).toBe("nightly");
      expect((await provider.getVariable("b")).metadata.batch).toBe("nightly");
      expect((await provider.getVariable("c")).metadata.batch).toBeUndefined();
    });

    it("updateMany() normalizes values as set() does", async (test) => {
      const provider = await context.open(test);
      await provider.register("count", "integer", 0);
      await provider.register("vector", "embedding", [0]);
      await provider.updateMany(
        new Map<string, unknown>([
          ["count", 4.0],
          ["vector", Float32Array.from([0.1, 2])],
        ]),
      );
      expect(await provider.get("count")).toBe(4);
      const vector = await provider.get("vector");
      expect(Array.isArray(vector)).toBe(true);
      expect(vector).toEqual(Array.from(Float32Array.from([0.1, 2])));
    });
  });
}
