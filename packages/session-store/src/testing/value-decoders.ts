import { StateError, type VariableType } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore, ValueDecoder } from "../types.js";
import type { StoreSuiteContext } from "./context.js";

/** A decoder that records the types it was called with and answers `decode(type)`. */
function recording(
  decode: (type: VariableType) => unknown,
): ValueDecoder & { readonly types: VariableType[] } {
  const types: VariableType[] = [];
  return Object.assign(
    (type: VariableType) => {
      types.push(type);
      return decode(type);
    },
    { types },
  );
}

const refuse = (type: VariableType): never => {
  throw new StateError("invalid_value", `not a ${type}`);
};

/** `set` and `updateMany` given {@link ValueDecoder}s: values whose decoding needs the type. */
export function describeValueDecoders(context: StoreSuiteContext): void {
  /** A store whose session "s" holds a (an integer at most 100) and c (a string): revision 2. */
  async function prepared(): Promise<SessionStore> {
    const store = await context.open();
    await store.initializeSession("s");
    await store.register("s", "a", "integer", 1, { constraints: { max: 100 } });
    await store.register("s", "c", "string", "x");
    return store;
  }

  describe("value decoders", () => {
    it("set() calls a ValueDecoder with the variable's type and writes what it returns", async () => {
      const store = await prepared();
      const decoder = recording((type) => (type === "string" ? "decoded" : 0));
      expect(await store.set("s", "c", decoder)).toEqual({ version: 1, revision: 3 });
      expect(decoder.types).toEqual(["string"]);
      expect((await store.getVariable("s", "c")).value).toBe("decoded");
    });

    it("set() answers session_expired and not_found before calling a ValueDecoder", async () => {
      const store = await prepared();
      const decoder = recording(refuse);
      await expectStateError(() => store.set("s", "missing", decoder), "not_found");
      await store.deleteSession("s");
      await expectStateError(() => store.set("s", "a", decoder), "session_expired");
      expect(decoder.types).toEqual([]);
    });

    it("set() reports what a ValueDecoder throws before a stale expectedVersion, and changes nothing", async () => {
      const store = await prepared();
      const error = await expectStateError(
        () => store.set("s", "a", recording(refuse), { expectedVersion: 7 }),
        "invalid_value",
      );
      expect(error.message).toContain("not a integer");
      expect(await store.getVariable("s", "a")).toMatchObject({ value: 1, version: 0 });
      // What the decoder returns is then checked like any value.
      await expectStateError(() => store.set("s", "a", () => 1000), "constraint_violation");
    });

    it("atomic updateMany fails with the first of a missing variable and a failing decoder in order, a failing decoder before other checks", async () => {
      const store = await prepared();
      await expectStateError(
        () =>
          store.updateMany(
            "s",
            [
              ["missing", 1],
              ["c", recording(refuse)],
            ],
            { atomic: true },
          ),
        "not_found",
      );
      const error = await expectStateError(
        () =>
          store.updateMany(
            "s",
            [
              ["a", 1000],
              ["c", recording(refuse)],
            ],
            { atomic: true },
          ),
        "invalid_value",
      );
      expect(error.message).toContain("not a string");
      expect((await store.getSession("s")).revision).toBe(2);
    });

    it("non-atomic updateMany applies what decodes and reports each failing decoder in partial_failure", async () => {
      const store = await prepared();
      const error = await expectStateError(
        () =>
          store.updateMany("s", [
            ["a", recording(() => 5)],
            ["c", recording(refuse)],
          ]),
        "partial_failure",
      );
      expect([...error.applied]).toEqual([["a", 1]]);
      expect([...error.failures]).toEqual([["c", { code: "invalid_value", message: "not a string" }]]);
      expect((await store.getVariable("s", "a")).value).toBe(5);
      expect((await store.getVariable("s", "c")).value).toBe("x");
    });
  });
}
