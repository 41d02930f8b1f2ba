import { describe, expect, it } from "vitest";
import { MAX_NAME_LENGTH } from "../identifiers.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, recordEvents, stateOf } from "./support.js";

/** Names that break code which keys user data by plain objects, or trims, or counts bytes. */
const UNUSUAL_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["__proto__", "__proto__"],
  ["constructor", "constructor"],
  ["toString", "toString"],
  ["hasOwnProperty", "hasOwnProperty"],
  ["valueOf", "valueOf"],
  ["unicode", "température_ü_日本語"],
  ["emoji", "🚀🔥 rocket"],
  ["surrounding whitespace", "  spaced name  "],
  ["a tab and a newline", "tab\tnew\nline"],
  ["a single space", " "],
  ["a NUL character", "nul\u0000inside"],
  ["a 1024-character name", "n".repeat(MAX_NAME_LENGTH)],
  ["a name of id-like text that is not an id", "var_XYZ"],
];

/**
 * Registers the tests of identifiers: a variable is reached by name or by id; names that could
 * be mistaken for ids are refused; any other non-empty name, however unusual, works.
 */
export function describeIdentifiers(context: ComplianceContext): void {
  describe("identifiers: names and ids", () => {
    it("every operation reaches a variable by its name and by its id", async (test) => {
      const provider = await context.open(test);
      const { id } = await provider.register("a", "integer", 1);
      expect(await provider.get(id)).toBe(1);
      expect((await provider.getVariable(id)).name).toBe("a");
      expect(await provider.set(id, 2)).toBe(1);
      expect(await provider.get("a")).toBe(2);
      expect(await provider.set("a", 3)).toBe(2);
      expect(await provider.get(id)).toBe(3);
      const result = await provider.updateMany(new Map([[id, 4]]));
      expect(result.versions.get(id)).toBe(3);
      expect(await provider.get("a")).toBe(4);
      await provider.delete(id);
      await expectStateError(() => provider.get("a"), "not_found");
    });

    it("names shaped like ids (var_ and 24 hex digits) are refused with invalid_value", async (test) => {
      const provider = await context.open(test);
      for (const name of ["var_0123456789abcdef01234567", "var_ffffffffffffffffffffffff"]) {
        await expectStateError(
          () => provider.register(name, "integer", 0),
          "invalid_value",
          `register(${name})`,
        );
      }
      expect(await provider.list()).toEqual([]);
    });

    it("a name equal to an existing variable's id cannot be registered, and that variable is unchanged", async (test) => {
      const provider = await context.open(test);
      const { id } = await provider.register("a", "integer", 1);
      const before = await stateOf(provider);
      await expectStateError(() => provider.register(id, "integer", 2), "invalid_value");
      expect(await stateOf(provider)).toBe(before);
      expect(await provider.get(id)).toBe(1);
    });

    it("empty names, non-string names and names with a lone surrogate are refused with invalid_value", async (test) => {
      const provider = await context.open(test);
      const invalid: ReadonlyArray<readonly [string, unknown]> = [
        ["the empty string", ""],
        ["a number", 42],
        ["null", null],
        ["undefined", undefined],
        ["a lone surrogate", "bad\ud800name"],
      ];
      for (const [label, name] of invalid) {
        await expectStateError(
          () => provider.register(name as string, "integer", 0),
          "invalid_value",
          `register() with ${label} as name`,
        );
      }
      expect(await provider.list()).toEqual([]);
    });

    it(`a ${MAX_NAME_LENGTH}-character name is accepted and a ${MAX_NAME_LENGTH + 1}-character one is refused with invalid_value`, async (test) => {
      const provider = await context.open(test);
      const longest = "x".repeat(MAX_NAME_LENGTH);
      await provider.register(longest, "integer", 1);
      expect(await provider.get(longest)).toBe(1);
      await expectStateError(
        () => provider.register("y".repeat(MAX_NAME_LENGTH + 1), "integer", 0),
        "invalid_value",
      );
      expect((await provider.list()).map((variable) => variable.name)).toEqual([longest]);
    });

    it("unusual names work with every operation: __proto__, constructor, toString, unicode, emoji, whitespace, 1024 characters", async (test) => {
      const provider = await context.open(test);
      for (const [label, name] of UNUSUAL_NAMES) {
        const registered = await provider.register(name, "string", `initial ${label}`);
        expect(registered.name, label).toBe(name);
        expect(await provider.get(name), label).toBe(`initial ${label}`);
        expect((await provider.getVariable(registered.id)).name, label).toBe(name);
      }
      // Names are exact: no trimming, no case folding.
      await expectStateError(() => provider.get("spaced name"), "not_found");
      await expectStateError(() => provider.get("Constructor"), "not_found");

      const names = UNUSUAL_NAMES.map(([, name]) => name);
      expect((await provider.list()).map((variable) => variable.name)).toEqual(names);
      const values = await provider.getMany(names);
      expect(values.size).toBe(names.length);
      for (const [label, name] of UNUSUAL_NAMES) expect(values.get(name), label).toBe(`initial ${label}`);

      const updates = new Map(names.map((name) => [name, `updated ${name.length}`] as const));
      const result = await provider.updateMany(updates, { atomic: provider.capabilities.atomicUpdates });
      expect([...result.versions.keys()].sort()).toEqual([...names].sort());
      for (const name of names) {
        expect(await provider.get(name)).toBe(`updated ${name.length}`);
        expect(await provider.set(name, "again")).toBe(2);
      }
      // A plain object whose keys are ordinary names also works as updates.
      await provider.updateMany({ constructor: "plain", toString: "object" });
      expect(await provider.get("constructor")).toBe("plain");
      expect(await provider.get("toString")).toBe("object");

      for (const name of names) await provider.delete(name);
      expect(await provider.list()).toEqual([]);
    });

    it("watching unusual names delivers events naming them (capabilities.watch)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "watch");
      const names = ["__proto__", "constructor", "🚀🔥 rocket"];
      for (const name of names) await provider.register(name, "integer", 0);
      const recorder = recordEvents();
      await provider.watch(names, recorder.watcher);
      for (const name of names) await provider.set(name, 1);
      await recorder.waitForCount(names.length, context.eventTimeoutMs);
      expect(recorder.events.map((event) => event.identifier)).toEqual(names);
      expect(recorder.events.map((event) => event.name)).toEqual(names);
    });

    it("a duplicate name is refused with already_exists and the first variable is unchanged", async (test) => {
      const provider = await context.open(test);
      const first = await provider.register("a", "integer", 1, { metadata: { owner: "first" } });
      await provider.set("a", 2);
      const before = await stateOf(provider);
      await expectStateError(() => provider.register("a", "integer", 5), "already_exists", "same type");
      await expectStateError(() => provider.register("a", "string", "x"), "already_exists", "another type");
      expect(await stateOf(provider)).toBe(before);
      const variable = await provider.getVariable("a");
      expect(variable.id).toBe(first.id);
      expect(variable.type).toBe("integer");
      expect(variable.value).toBe(2);
      expect(variable.version).toBe(1);
      expect(variable.metadata.owner).toBe("first");
    });

    it("concurrent registrations of one name: exactly one succeeds, the rest fail with already_exists", async (test) => {
      const provider = await context.open(test);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) => provider.register("contended", "integer", index)),
      );
      const succeeded = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(succeeded).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          await expectStateError(
            () => Promise.reject(outcome.reason),
            "already_exists",
            "a losing registration",
          );
        }
      }
      const winner = (succeeded[0] as PromiseFulfilledResult<{ id: string }>).value;
      expect((await provider.list()).map((variable) => variable.id)).toEqual([winner.id]);
    });
  });
}
