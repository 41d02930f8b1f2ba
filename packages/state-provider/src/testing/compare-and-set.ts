import { describe, expect, it } from "vitest";
import type { ComplianceContext } from "./context.js";
import { expectStateError, stateOf } from "./support.js";

/**
 * Registers the compare-and-set tests (`set()` with `expectedVersion`); each is skipped unless
 * the backend declares `capabilities.compareAndSet`.
 */
export function describeCompareAndSet(context: ComplianceContext): void {
  describe("compare-and-set (capabilities.compareAndSet)", () => {
    it("set() with the current expectedVersion succeeds and returns the next version (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      await provider.register("counter", "integer", 0);
      for (let version = 0; version < 10; version++) {
        const current = (await provider.get("counter")) as number;
        expect(await provider.set("counter", current + 1, { expectedVersion: version })).toBe(version + 1);
      }
      const variable = await provider.getVariable("counter");
      expect(variable.value).toBe(10);
      expect(variable.version).toBe(10);
    });

    it("set() with a stale expectedVersion fails with version_conflict and changes nothing: value, version, metadata, revision (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      const { id } = await provider.register("a", "string", "first", { metadata: { owner: "x" } });
      await provider.set("a", "second");
      const before = await stateOf(provider);
      for (const [identifier, expectedVersion] of [
        ["a", 0],
        [id, 0],
        ["a", 2],
        ["a", 1000],
      ] as const) {
        await expectStateError(
          () => provider.set(identifier, "third", { expectedVersion, metadata: { owner: "y" } }),
          "version_conflict",
          `set(${identifier}, expectedVersion ${expectedVersion}) at version 1`,
        );
      }
      expect(await stateOf(provider)).toBe(before);
      const variable = await provider.getVariable("a");
      expect(variable.value).toBe("second");
      expect(variable.version).toBe(1);
      expect(variable.metadata.owner).toBe("x");
    });

    it("a malformed expectedVersion is refused with invalid_value (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      await provider.register("a", "integer", 0);
      const before = await stateOf(provider);
      for (const expectedVersion of [-1, 0.5, Number.NaN, "0", null]) {
        await expectStateError(
          () => provider.set("a", 1, { expectedVersion: expectedVersion as number }),
          "invalid_value",
          `expectedVersion ${String(expectedVersion)}`,
        );
      }
      expect(await stateOf(provider)).toBe(before);
    });

    it("compare-and-set on a missing variable fails with not_found (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      await expectStateError(() => provider.set("missing", 1, { expectedVersion: 0 }), "not_found");
    });

    it("a refused value with the right expectedVersion fails with its own code and changes nothing (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      await provider.register("a", "integer", 0, { constraints: { max: 5 } });
      await expectStateError(() => provider.set("a", 6, { expectedVersion: 0 }), "constraint_violation");
      await expectStateError(() => provider.set("a", "6", { expectedVersion: 0 }), "invalid_value");
      expect(await provider.set("a", 5, { expectedVersion: 0 })).toBe(1);
    });

    it("of concurrent compare-and-sets from one version exactly one wins; the others fail with version_conflict (capabilities.compareAndSet)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "compareAndSet");
      await provider.register("a", "integer", 0);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, index) => provider.set("a", index + 1, { expectedVersion: 0 })),
      );
      const winners = outcomes.flatMap((outcome, index) => (outcome.status === "fulfilled" ? [index] : []));
      expect(winners).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "fulfilled") expect(outcome.value).toBe(1);
        else await expectStateError(() => Promise.reject(outcome.reason), "version_conflict", "a losing set");
      }
      const variable = await provider.getVariable("a");
      expect(variable.version).toBe(1);
      expect(variable.value).toBe((winners[0] as number) + 1);
    });
  });
}
