import { describe, expect, it } from "vitest";
import { MAX_GLOB_LENGTH } from "../glob.js";
import { MAX_IDENTIFIER_LENGTH } from "../identifiers.js";
import { MAX_ARRAY_LENGTH, MAX_TENSOR_RANK } from "../type-system.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, stateOf } from "./support.js";

/** An identifier far over the limit, as an attacker would send it. */
const HUGE = "x".repeat(200_000);

/**
 * Registers the tests of input limits: identifiers, metadata keys, list patterns and tensor
 * shapes are bounded and refused with `invalid_value` beyond their limit; list globs and
 * pattern constraints answer in linear time whatever the pattern. Each refusal changes nothing.
 */
export function describeLimits(context: ComplianceContext): void {
  describe("limits: bounded inputs, linear-time patterns", () => {
    it(`an identifier longer than ${MAX_IDENTIFIER_LENGTH} characters is refused with invalid_value by every operation, and nothing changes`, async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      const before = await stateOf(provider);
      const calls: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
        ["get", () => provider.get(HUGE)],
        ["getVariable", () => provider.getVariable(HUGE)],
        ["getMany", () => provider.getMany(["a", HUGE])],
        ["set", () => provider.set(HUGE, 2)],
        [
          "updateMany",
          () =>
            provider.updateMany(
              new Map([
                ["a", 2],
                [HUGE, 2],
              ]),
            ),
        ],
        [
          "atomic updateMany",
          () =>
            provider.updateMany(
              new Map([
                ["a", 2],
                [HUGE, 2],
              ]),
              { atomic: true },
            ),
        ],
        ["delete", () => provider.delete(HUGE)],
        ["watch", () => provider.watch(["a", HUGE], () => {})],
      ];
      for (const [what, call] of calls) {
        const error = await expectStateError(call, "invalid_value", what);
        expect(error.message, `${what} does not echo the identifier`).toContain("at most 1024 characters");
        expect(error.message.length, what).toBeLessThan(200);
      }
      expect(await stateOf(provider)).toBe(before);
      expect(await provider.get("x".repeat(MAX_IDENTIFIER_LENGTH)).catch((error) => error.code)).toBe(
        "not_found",
      );
    });

    it(`metadata with a key longer than ${MAX_IDENTIFIER_LENGTH} characters is refused with invalid_value, and nothing changes`, async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      const before = await stateOf(provider);
      const metadata = { [HUGE]: 1 };
      await expectStateError(() => provider.register("b", "integer", 1, { metadata }), "invalid_value");
      await expectStateError(() => provider.set("a", 2, { metadata }), "invalid_value");
      await expectStateError(() => provider.updateMany(new Map([["a", 2]]), { metadata }), "invalid_value");
      expect(await stateOf(provider)).toBe(before);
    });

    it(`list() with a pattern longer than ${MAX_GLOB_LENGTH} characters, such as a 100,000-star glob, is refused with invalid_value (regression: it failed with internal)`, async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      const error = await expectStateError(() => provider.list("*".repeat(100_000)), "invalid_value");
      expect(error.message).toContain(`at most ${MAX_GLOB_LENGTH} characters`);
      expect((await provider.list("*".repeat(MAX_GLOB_LENGTH))).map((variable) => variable.name)).toEqual([
        "a",
      ]);
    });

    it("list('*a*a*a*a*b') over 160-character names lists exactly those that match (regression: polynomial backtracking blocked the process for seconds)", async (test) => {
      const provider = await context.open(test);
      const matching = [`${"a".repeat(159)}b`, "ab".repeat(80)];
      const others = [..."acdefghijklmnopqrstuvwxyz"].map((last) => `${"a".repeat(159)}${last}`);
      for (const name of [...matching, ...others]) await provider.register(name, "integer", 0);
      const listed = await provider.list("*a*a*a*a*b");
      expect(listed.map((variable) => variable.name)).toEqual(matching);
    });

    it("a pattern constraint that needs backtracking (a backreference, lookahead or lookbehind) is refused at register with invalid_value", async (test) => {
      const provider = await context.open(test);
      for (const pattern of ["^(a)\\1$", "^(?<x>a)\\k<x>$", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b"]) {
        await expectStateError(
          () => provider.register("s", "string", "ab", { constraints: { pattern } }),
          "invalid_value",
          `pattern ${pattern}`,
        );
      }
      expect(await provider.list()).toEqual([]);
    });

    it("a string checked against ^(a+)+$ is refused with constraint_violation however long (regression: exponential backtracking took seconds on 28 characters)", async (test) => {
      const provider = await context.open(test);
      await provider.register("s", "string", "aaa", { constraints: { pattern: "^(a+)+$" } });
      await expectStateError(() => provider.set("s", `${"a".repeat(40)}!`), "constraint_violation");
      expect(await provider.set("s", "a".repeat(10_000))).toBe(1);
      await expectStateError(
        () =>
          provider.register("t", "string", `${"a".repeat(40)}!`, { constraints: { pattern: "^(a|aa)+$" } }),
        "constraint_violation",
      );
    });

    it(`a tensor of more than ${MAX_TENSOR_RANK} dimensions, or with a dimension above ${MAX_ARRAY_LENGTH}, is refused with invalid_value, as is such a shape constraint`, async (test) => {
      const provider = await context.open(test);
      await provider.register("t", "tensor", { shape: [1], data: [0] });
      const before = await stateOf(provider);
      const flat = new Array<number>(100_000).fill(1);
      const wide = { shape: [MAX_ARRAY_LENGTH + 1, 0], data: [] };
      await expectStateError(
        () => provider.register("u", "tensor", { shape: flat, data: [1] }),
        "invalid_value",
      );
      await expectStateError(() => provider.set("t", { shape: flat, data: [1] }), "invalid_value");
      await expectStateError(() => provider.set("t", wide), "invalid_value");
      await expectStateError(
        () => provider.register("u", "tensor", { shape: [1], data: [1] }, { constraints: { shape: flat } }),
        "invalid_value",
      );
      expect(await stateOf(provider)).toBe(before);
      const deepest = new Array<number>(MAX_TENSOR_RANK).fill(1);
      expect(await provider.set("t", { shape: deepest, data: [2] })).toBe(1);
    });
  });
}
