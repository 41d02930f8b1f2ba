import { describe, expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError } from "./support.js";

const NAMES = [
  "temperature",
  "temp",
  "temp_max",
  "atemp",
  "learning_rate",
  "_rate",
  "rate_limit",
  "abc",
  "a.c",
  "ac",
  "abbc",
  "star*",
  "starx",
  "a.b",
  "axb",
  "x+y",
  "xxy",
  "(z)",
  "z",
  "[q]",
  "q",
  "back\\slash",
  "ok?",
  "okk",
  "top-k",
  "top_k",
] as const;

/** Glob patterns and exactly the names each must list, in creation order. */
const PATTERNS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["temp*", ["temperature", "temp", "temp_max"]],
  ["*_rate", ["learning_rate", "_rate"]],
  ["a?c", ["abc", "a.c"]],
  ["star\\*", ["star*"]],
  ["star*", ["star*", "starx"]],
  ["a.b", ["a.b"]],
  ["x+y", ["x+y"]],
  ["(z)", ["(z)"]],
  ["[q]", ["[q]"]],
  ["back\\\\slash", ["back\\slash"]],
  ["ok\\?", ["ok?"]],
  ["ok?", ["ok?", "okk"]],
  ["temp", ["temp"]],
  ["*rate*", ["learning_rate", "_rate", "rate_limit"]],
  ["top-*", ["top-k"]],
  ["nothing*", []],
  ["", []],
];

async function registerAll(provider: StateProvider): Promise<void> {
  for (const name of NAMES) await provider.register(name, "integer", 0);
}

/**
 * Registers the `list()` tests: creation order; anchored globs where `*`, `?` and `\` are the
 * only special characters and regex metacharacters in names are literal.
 */
export function describeList(context: ComplianceContext): void {
  describe("list(): creation order and anchored globs", () => {
    it("list() without a pattern returns every variable, whole, in creation order", async (test) => {
      const provider = await context.open(test);
      const order = ["zeta", "alpha", "mu", "beta"];
      const ids: string[] = [];
      for (const name of order) ids.push((await provider.register(name, "integer", ids.length)).id);
      const variables = await provider.list();
      expect(variables.map((variable) => variable.name)).toEqual(order);
      expect(variables.map((variable) => variable.id)).toEqual(ids);
      expect(variables.map((variable) => variable.value)).toEqual([0, 1, 2, 3]);
      expect(variables.every((variable) => variable.type === "integer" && variable.version === 0)).toBe(true);
    });

    it("creation order survives sets, and a variable registered again after delete() comes last", async (test) => {
      const provider = await context.open(test);
      for (const name of ["a", "b", "c"]) await provider.register(name, "integer", 0);
      await provider.set("a", 1);
      await provider.delete("b");
      await provider.register("b", "integer", 0);
      expect((await provider.list()).map((variable) => variable.name)).toEqual(["a", "c", "b"]);
    });

    for (const [pattern, expected] of PATTERNS) {
      it(`list(${JSON.stringify(pattern)}) lists exactly ${expected.length === 0 ? "nothing" : expected.map((name) => JSON.stringify(name)).join(", ")}`, async (test) => {
        const provider = await context.open(test);
        await registerAll(provider);
        expect((await provider.list(pattern)).map((variable) => variable.name)).toEqual(expected);
      });
    }

    it("list('*') lists everything", async (test) => {
      const provider = await context.open(test);
      await registerAll(provider);
      expect((await provider.list("*")).map((variable) => variable.name)).toEqual([...NAMES]);
    });

    it("a pattern that is not a string is refused with invalid_value", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0);
      for (const pattern of [5, null, /a/]) {
        await expectStateError(
          () => provider.list(pattern as unknown as string),
          "invalid_value",
          `list(${String(pattern)})`,
        );
      }
    });
  });
}
