import { isStateError, StateError } from "@statebridge/state-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "../src/index.js";

let store: SessionStore;

beforeEach(() => {
  store = createSessionStore();
  store.initializeSession("s");
  store.register("s", "a", "integer", 1, { constraints: { max: 100 } });
  store.register("s", "b", "integer", 2, { constraints: { max: 100 } });
  store.register("s", "c", "string", "x");
});

afterEach(() => store.close());

function errorOf(action: () => unknown): StateError {
  try {
    action();
  } catch (error) {
    if (error instanceof StateError) return error;
    throw error;
  }
  throw new Error("expected the action to throw");
}

describe("updateMany", () => {
  it("applies every update in one revision and returns each new version by the identifier given", () => {
    const idOfB = store.getVariable("s", "b").id;
    const result = store.updateMany(
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
    expect(store.getVariable("s", "a")).toMatchObject({ value: 10, source: "python" });
    expect(store.getVariable("s", "b").metadata.by).toBe("batch");
    expect(store.getSession("s").revision).toBe(4);
  });

  it("atomic: one invalid update fails with its own code and nothing changes", () => {
    const error = errorOf(() =>
      store.updateMany(
        "s",
        new Map<string, unknown>([
          ["a", 10],
          ["b", 1000],
        ]),
        { atomic: true },
      ),
    );
    expect(error.code).toBe("constraint_violation");
    expect(error.message).toContain('"b" = 1000 is above max 100');
    expect(store.getVariable("s", "a")).toMatchObject({ value: 1, version: 0 });
    expect(store.getSession("s").revision).toBe(3);
    expect(
      errorOf(() =>
        store.updateMany(
          "s",
          new Map<string, unknown>([
            ["a", 10],
            ["missing", 1],
          ]),
          { atomic: true },
        ),
      ).code,
    ).toBe("not_found");
  });

  it("non-atomic: applies what validates in one revision and reports the rest in partial_failure", () => {
    const error = errorOf(() =>
      store.updateMany(
        "s",
        new Map<string, unknown>([
          ["a", 10],
          ["b", 1000],
          ["c", "y"],
          ["missing", 1],
        ]),
      ),
    );
    expect(error.code).toBe("partial_failure");
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
    expect(store.getVariable("s", "a").value).toBe(10);
    expect(store.getVariable("s", "c").value).toBe("y");
    expect(store.getVariable("s", "b")).toMatchObject({ value: 2, version: 0 });
    expect(store.getSession("s").revision).toBe(4);
  });

  it("non-atomic where everything fails: partial_failure with nothing applied and no revision taken", () => {
    const error = errorOf(() => store.updateMany("s", new Map([["a", "text"]])));
    expect(error.code).toBe("partial_failure");
    expect(error.applied.size).toBe(0);
    expect(error.failures.get("a")?.code).toBe("invalid_value");
    expect(store.getSession("s").revision).toBe(3);
  });

  it("two identifiers of the same variable in one batch are refused", () => {
    const idOfA = store.getVariable("s", "a").id;
    const error = errorOf(() =>
      store.updateMany(
        "s",
        new Map<string, unknown>([
          ["a", 5],
          [idOfA, 6],
        ]),
        { atomic: true },
      ),
    );
    expect(error.code).toBe("invalid_value");
    expect(store.getVariable("s", "a").value).toBe(1);
  });

  it("malformed batch metadata is invalid_value before anything is applied, atomic or not", () => {
    for (const atomic of [true, false]) {
      const error = errorOf(() =>
        store.updateMany("s", new Map([["a", 5]]), { atomic, metadata: [] as never }),
      );
      expect(isStateError(error, "invalid_value")).toBe(true);
    }
    expect(store.getVariable("s", "a").value).toBe(1);
  });

  it("an empty batch changes nothing and takes no revision", () => {
    expect(store.updateMany("s", new Map())).toEqual({ revision: 3, versions: new Map() });
  });
});
