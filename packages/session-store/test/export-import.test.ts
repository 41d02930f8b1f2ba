import { isStateError, StateError } from "@statebridge/state-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "../src/index.js";
import { recordingListener } from "./recording-listener.js";

let store: SessionStore;

beforeEach(() => {
  store = createSessionStore();
  store.initializeSession("source", { metadata: { project: "demo" } });
  store.register("source", "temperature", "float", Number.NaN, { description: "t" });
  store.register("source", "vector", "embedding", [0.1, -0, 1e308]);
  store.register("source", "grid", "tensor", {
    shape: [2, 3],
    data: [1, 2, 3, 4, 5, Number.POSITIVE_INFINITY],
  });
  store.register("source", "count", "integer", 1, { constraints: { min: 0 } });
  store.set("source", "count", 2, { source: "python" });
  store.set("source", "count", 3);
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

describe("export and import", () => {
  it("a JSON round trip into a new session keeps ids, versions, values and the revision", () => {
    const document = JSON.parse(JSON.stringify(store.exportSession("source")));
    expect(document.revision).toBe(6);
    const result = store.importSession("target", document);
    expect(result).toEqual({ revision: 6, imported: 4 });
    expect(store.getSession("target")).toMatchObject({ revision: 6, variableCount: 4 });
    expect(store.getSession("target").metadata.project).toBe("demo");
    const before = store.list("source");
    const after = store.list("target");
    expect(after.map((variable) => variable.id)).toEqual(before.map((variable) => variable.id));
    for (let index = 0; index < before.length; index++) {
      const original = before[index];
      const copy = after[index];
      expect(copy).toEqual(original);
    }
    expect(store.getVariable("target", "count")).toMatchObject({ version: 2, source: "unknown" });
    expect(Object.is((store.getVariable("target", "vector").value as number[])[1], -0)).toBe(true);
    // The imported session carries on from the adopted revision.
    expect(store.set("target", "count", 4)).toEqual({ version: 3, revision: 7 });
  });

  it("importing into an absent session creates it; into an empty one adopts the revision", () => {
    const document = store.exportSession("source");
    store.initializeSession("empty");
    expect(store.importSession("empty", document).revision).toBe(6);
    expect(store.stats().sessionsCreated).toBe(2);
    store.importSession("fresh", document);
    expect(store.stats().sessionsCreated).toBe(3);
  });

  it("importing into a non-empty session takes max(current, document) + 1", () => {
    store.initializeSession("busy");
    store.register("busy", "other", "integer", 1);
    const document = store.exportSession("source");
    expect(store.importSession("busy", document)).toEqual({ revision: 7, imported: 4 });
    expect(store.getSession("busy").variableCount).toBe(5);
  });

  it("a conflicting id or name is already_exists and changes nothing", () => {
    const document = store.exportSession("source");
    const error = errorOf(() => store.importSession("source", document));
    expect(error.code).toBe("already_exists");
    store.initializeSession("named");
    store.register("named", "count", "integer", 0);
    expect(errorOf(() => store.importSession("named", document)).code).toBe("already_exists");
    expect(store.getSession("named")).toMatchObject({ revision: 1, variableCount: 1 });
  });

  it("a malformed document is invalid_export and does not create the session", () => {
    const document = JSON.parse(JSON.stringify(store.exportSession("source")));
    document.variables[2].version = -1;
    const error = errorOf(() => store.importSession("new", document));
    expect(error.code).toBe("invalid_export");
    expect(error.message).toContain("variables[2].version");
    expect(errorOf(() => store.getSession("new")).code).toBe("session_expired");
    expect(errorOf(() => store.importSession("new", { format: "other" })).code).toBe("invalid_export");
  });

  it("a value the quota refuses is resource_exhausted and nothing is imported", () => {
    const document = store.exportSession("source");
    const small = createSessionStore({ maxValueBytes: 40 });
    const error = errorOf(() => small.importSession("s", document));
    expect(isStateError(error, "resource_exhausted")).toBe(true);
    expect(error.message).toContain('"grid" is 48 bytes');
    expect(errorOf(() => small.getSession("s")).code).toBe("session_expired");
    const few = createSessionStore({ maxVariablesPerSession: 3 });
    expect(errorOf(() => few.importSession("s", document)).code).toBe("resource_exhausted");
    small.close();
    few.close();
  });

  it("after an import into an empty session, resuming from an older revision resyncs", () => {
    const document = store.exportSession("source");
    store.importSession("target", document);
    const listener = recordingListener();
    store.watch("target", ["count"], listener, { fromRevision: 2 });
    expect(listener.batches).toHaveLength(1);
    expect(listener.batches[0]?.events[0]).toMatchObject({ type: "resync", newValue: 3, revision: 6 });
  });
});

describe("importVariables", () => {
  /** The source session's variables with decoded values, as the bridge-server receives them. */
  function decodedVariables() {
    return store.list("source").map((variable) => ({ ...variable }));
  }

  it("stores exactly what importSession stores for the same variables and revision", () => {
    const document = JSON.parse(JSON.stringify(store.exportSession("source")));
    expect(store.importSession("by_document", document)).toEqual({ revision: 6, imported: 4 });
    expect(
      store.importVariables("by_variables", {
        revision: 6,
        metadata: { project: "demo" },
        variables: decodedVariables(),
      }),
    ).toEqual({ revision: 6, imported: 4 });
    expect(store.list("by_variables")).toEqual(store.list("by_document"));
    expect(store.getSession("by_variables")?.metadata).toEqual({ project: "demo" });
    expect(Object.is((store.getVariable("by_variables", "vector").value as number[])[1], -0)).toBe(true);
    expect(Number.isNaN(store.getVariable("by_variables", "temperature").value)).toBe(true);
  });

  it("refuses a value its type refuses as invalid_export naming it, and creates nothing", () => {
    const variables = decodedVariables();
    variables[3] = { ...variables[3]!, value: 1.5 };
    const error = errorOf(() => store.importVariables("target", { revision: 6, metadata: {}, variables }));
    expect(error.code).toBe("invalid_export");
    expect(error.message).toContain("variables[3].value");
    expect(errorOf(() => store.getSession("target")).code).toBe("session_expired");
    const badRevision = errorOf(() =>
      store.importVariables("target", { revision: -1, metadata: {}, variables: decodedVariables() }),
    );
    expect(badRevision.code).toBe("invalid_export");
    expect(badRevision.message).toContain("revision must be a non-negative integer");
  });

  it("a conflicting id is already_exists and imports nothing", () => {
    store.initializeSession("target");
    store.register("target", "kept", "integer", 1);
    const variables = [...decodedVariables(), store.getVariable("target", "kept")].map((variable, index) =>
      index < 4 ? { ...variable, name: `fresh_${index}`, id: `var_${String(index).repeat(24)}` } : variable,
    );
    expect(
      errorOf(() => store.importVariables("target", { revision: 1, metadata: {}, variables })).code,
    ).toBe("already_exists");
    expect(store.list("target").map((variable) => variable.name)).toEqual(["kept"]);
  });
});
