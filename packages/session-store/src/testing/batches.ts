import { isStateError, type StateError } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore } from "../types.js";
import type { StoreSuiteContext } from "./context.js";

/** `updateMany`: one revision per batch, atomic all-or-nothing, partial failures. */
export function describeBatches(context: StoreSuiteContext): void {
  /** A store whose session "s" holds a and b (integers at most 100) and c (a string): revision 3. */
  async function prepared(): Promise<SessionStore> {
    const store = await context.open();
    await store.initializeSession("s");
    await store.register("s", "a", "integer", 1, { constraints: { max: 100 } });
    await store.register("s", "b", "integer", 2, { constraints: { max: 100 } });
    await store.register("s", "c", "string", "x");
    return store;
  }

  describe("updateMany", () => {
    it("applies every update in one revision and returns each new version by the identifier given", async () => {
      const store = await prepared();
      const idOfB = (await store.getVariable("s", "b")).id;
      const result = await store.updateMany(
        "s",
        new Map<string, unknown>([
          ["a", 10],
          [idOfB, 20],
        ]),
        { metadata: { by: "batch" }, source: "python" },
      );
      expect(result.revision).toBe(4);
      expect([...result.versions]).toEqual([
        ["a", 1],
        [idOfB, 1],
      ]);
      expect(await store.getVariable("s", "a")).toMatchObject({ value: 10, source: "python" });
      expect((await store.getVariable("s", "b")).metadata.by).toBe("batch");
      expect((await store.getSession("s")).revision).toBe(4);
    });

    it("atomic: one invalid update fails with its own code and nothing changes", async () => {
      const store = await prepared();
      const error = await expectStateError(
        () =>
          store.updateMany(
            "s",
            new Map<string, unknown>([
              ["a", 10],
              ["b", 1000],
            ]),
            { atomic: true },
          ),
        "constraint_violation",
      );
      expect(error.message).toContain('"b" = 1000 is above max 100');
      expect(await store.getVariable("s", "a")).toMatchObject({ value: 1, version: 0 });
      expect((await store.getSession("s")).revision).toBe(3);
      await expectStateError(
        () =>
          store.updateMany(
            "s",
            new Map<string, unknown>([
              ["a", 10],
              ["missing", 1],
            ]),
            { atomic: true },
          ),
        "not_found",
      );
      expect(await store.getVariable("s", "a")).toMatchObject({ value: 1, version: 0 });
    });

    it("non-atomic: applies what validates in one revision and reports the rest in partial_failure", async () => {
      const store = await prepared();
      const error: StateError = await expectStateError(
        () =>
          store.updateMany(
            "s",
            new Map<string, unknown>([
              ["a", 10],
              ["b", 1000],
              ["c", "y"],
              ["missing", 1],
            ]),
          ),
        "partial_failure",
      );
      expect(error.message).toMatch(
        /^partial_failure: 2 of 4 updates failed \(the others were applied at revision 4\)/,
      );
      expect([...error.applied]).toEqual([
        ["a", 1],
        ["c", 1],
      ]);
      expect([...error.failures.keys()]).toEqual(["b", "missing"]);
      expect(error.failures.get("b")?.code).toBe("constraint_violation");
      expect(error.failures.get("missing")?.code).toBe("not_found");
      expect((await store.getVariable("s", "a")).value).toBe(10);
      expect((await store.getVariable("s", "c")).value).toBe("y");
      expect(await store.getVariable("s", "b")).toMatchObject({ value: 2, version: 0 });
      expect((await store.getSession("s")).revision).toBe(4);
    });

    it("non-atomic where everything fails: partial_failure with nothing applied and no revision taken", async () => {
      const store = await prepared();
      const error = await expectStateError(
        () => store.updateMany("s", new Map([["a", "text"]])),
        "partial_failure",
      );
      expect(error.applied.size).toBe(0);
      expect(error.failures.get("a")?.code).toBe("invalid_value");
      expect((await store.getSession("s")).revision).toBe(3);
    });

    it("two identifiers of the same variable in one batch are refused", async () => {
      const store = await prepared();
      const idOfA = (await store.getVariable("s", "a")).id;
      await expectStateError(
        () =>
          store.updateMany(
            "s",
            new Map<string, unknown>([
              ["a", 5],
              [idOfA, 6],
            ]),
            { atomic: true },
          ),
        "invalid_value",
      );
      expect((await store.getVariable("s", "a")).value).toBe(1);
      expect((await store.getSession("s")).revision).toBe(3);
    });

    it("malformed batch metadata is invalid_value before anything is applied, atomic or not", async () => {
      const store = await prepared();
      for (const atomic of [true, false]) {
        let error: unknown;
        try {
          await store.updateMany("s", new Map([["a", 5]]), { atomic, metadata: [] as never });
        } catch (caught) {
          error = caught;
        }
        expect(isStateError(error, "invalid_value"), `atomic: ${atomic}`).toBe(true);
      }
      expect((await store.getVariable("s", "a")).value).toBe(1);
    });

    it("an empty batch changes nothing and takes no revision", async () => {
      const store = await prepared();
      expect(await store.updateMany("s", new Map())).toEqual({ revision: 3, versions: new Map() });
      expect((await store.getSession("s")).revision).toBe(3);
    });

    it("concurrent batches each take exactly one revision and none is lost", async () => {
      const store = await prepared();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          store.updateMany(
            "s",
            new Map<string, unknown>([
              ["a", index],
              ["b", index],
            ]),
            { atomic: true },
          ),
        ),
      );
      expect(results.map((result) => result.revision).sort((left, right) => left - right)).toEqual(
        Array.from({ length: 20 }, (_, index) => 4 + index),
      );
      expect(await store.getVariable("s", "a")).toMatchObject({ version: 20 });
      expect(await store.getVariable("s", "b")).toMatchObject({ version: 20 });
      expect((await store.getSession("s")).revision).toBe(23);
    });
  });
}
