import { isStateError } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore, SessionStoreOptions } from "../types.js";
import type { StoreSuiteContext } from "./context.js";
import { recordingListener, summary } from "./support.js";

/** Export documents and imports: round trips, revisions, conflicts, all-or-nothing. */
export function describeExportImport(context: StoreSuiteContext): void {
  /** A store whose session "source" holds four variables at revision 6. */
  async function withSource(options: SessionStoreOptions = {}): Promise<SessionStore> {
    const store = await context.open(options);
    await store.initializeSession("source", { metadata: { project: "demo" } });
    await store.register("source", "temperature", "float", Number.NaN, { description: "t" });
    await store.register("source", "vector", "embedding", [0.1, -0, 1e308]);
    await store.register("source", "grid", "tensor", {
      shape: [2, 3],
      data: [1, 2, 3, 4, 5, Number.POSITIVE_INFINITY],
    });
    await store.register("source", "count", "integer", 1, { constraints: { min: 0 } });
    await store.set("source", "count", 2, { source: "python" });
    await store.set("source", "count", 3);
    return store;
  }

  describe("export and import", () => {
    it("a JSON round trip into a new session keeps ids, versions, values, times and the revision", async () => {
      const store = await withSource();
      const document = JSON.parse(JSON.stringify(await store.exportSession("source")));
      expect(document.revision).toBe(6);
      expect(await store.importSession("target", document)).toEqual({ revision: 6, imported: 4 });
      expect(await store.getSession("target")).toMatchObject({ revision: 6, variableCount: 4 });
      expect((await store.getSession("target")).metadata.project).toBe("demo");
      const before = await store.list("source");
      const after = await store.list("target");
      expect(after.map((variable) => variable.id)).toEqual(before.map((variable) => variable.id));
      for (let index = 0; index < before.length; index++) expect(after[index]).toEqual(before[index]);
      expect(await store.getVariable("target", "count")).toMatchObject({ version: 2, source: "unknown" });
      expect(Object.is(((await store.getVariable("target", "vector")).value as number[])[1], -0)).toBe(true);
      // The imported session carries on from the adopted revision.
      expect(await store.set("target", "count", 4)).toEqual({ version: 3, revision: 7 });
    });

    it("importing into an absent session creates it; into an empty one adopts the revision", async () => {
      const store = await withSource();
      const document = await store.exportSession("source");
      const { session } = await store.initializeSession("empty");
      expect((await store.importSession("empty", document)).revision).toBe(6);
      expect((await store.getSession("empty")).incarnation).toBe(session.incarnation);
      await store.importSession("fresh", document);
      expect(await store.getSession("fresh")).toMatchObject({ revision: 6, variableCount: 4 });
      expect((await store.initializeSession("fresh")).created).toBe(false);
    });

    it("importing into a non-empty session takes max(current, document) + 1", async () => {
      const store = await withSource();
      await store.initializeSession("busy");
      await store.register("busy", "other", "integer", 1);
      const document = await store.exportSession("source");
      expect(await store.importSession("busy", document)).toEqual({ revision: 7, imported: 4 });
      expect((await store.getSession("busy")).variableCount).toBe(5);
    });

    it("a conflicting id or name is already_exists and changes nothing", async () => {
      const store = await withSource();
      const document = await store.exportSession("source");
      await expectStateError(() => store.importSession("source", document), "already_exists");
      await store.initializeSession("named");
      await store.register("named", "count", "integer", 0);
      await expectStateError(() => store.importSession("named", document), "already_exists");
      expect(await store.getSession("named")).toMatchObject({ revision: 1, variableCount: 1 });
      expect((await store.list("named")).map((variable) => variable.name)).toEqual(["count"]);
    });

    it("a malformed document is invalid_export and does not create the session", async () => {
      const store = await withSource();
      const document = JSON.parse(JSON.stringify(await store.exportSession("source")));
      document.variables[2].version = -1;
      const error = await expectStateError(() => store.importSession("new", document), "invalid_export");
      expect(error.message).toContain("variables[2].version");
      await expectStateError(() => store.getSession("new"), "session_expired");
      await expectStateError(() => store.importSession("new", { format: "other" }), "invalid_export");
      await expectStateError(() => store.importSession("new", "text"), "invalid_export");
      expect((await store.listSessions()).sessions.map((session) => session.sessionId)).toEqual(["source"]);
    });

    it("a value the quota refuses is resource_exhausted and nothing is imported", async () => {
      const store = await withSource();
      const document = await store.exportSession("source");
      const small = await context.open({ maxValueBytes: 40 });
      const error = await expectStateError(() => small.importSession("s", document), "resource_exhausted");
      expect(error.message).toContain('"grid" is 48 bytes');
      await expectStateError(() => small.getSession("s"), "session_expired");
      const few = await context.open({ maxVariablesPerSession: 3 });
      await expectStateError(() => few.importSession("s", document), "resource_exhausted");
      await few.initializeSession("s");
      await expectStateError(() => few.importSession("s", document), "resource_exhausted");
      expect((await few.getSession("s")).variableCount).toBe(0);
    });

    it("after an import into an empty session, resuming from an older revision resyncs", async () => {
      const store = await withSource();
      await store.importSession("target", await store.exportSession("source"));
      const listener = recordingListener();
      await store.watch("target", ["count"], listener, { fromRevision: 2 });
      await listener.waitForRevision(6, context.eventTimeoutMs);
      expect(summary(listener.batches)).toEqual(["6: resync count=3"]);
      expect(listener.batches[0]?.events[0]).toMatchObject({
        type: "resync",
        newValue: 3,
        revision: 6,
        version: 2,
      });
    });
  });

  describe("importVariables", () => {
    /** The source session's variables with decoded values, as the bridge-server receives them. */
    async function decodedVariables(store: SessionStore) {
      return (await store.list("source")).map((variable) => ({ ...variable }));
    }

    it("stores exactly what importSession stores for the same variables and revision", async () => {
      const store = await withSource();
      const document = JSON.parse(JSON.stringify(await store.exportSession("source")));
      expect(await store.importSession("by_document", document)).toEqual({ revision: 6, imported: 4 });
      expect(
        await store.importVariables("by_variables", {
          revision: 6,
          metadata: { project: "demo" },
          variables: await decodedVariables(store),
        }),
      ).toEqual({ revision: 6, imported: 4 });
      expect(await store.list("by_variables")).toEqual(await store.list("by_document"));
      expect((await store.getSession("by_variables")).metadata).toEqual({ project: "demo" });
      expect(Object.is(((await store.getVariable("by_variables", "vector")).value as number[])[1], -0)).toBe(
        true,
      );
      expect(Number.isNaN((await store.getVariable("by_variables", "temperature")).value)).toBe(true);
    });

    it("refuses a value its type refuses as invalid_export naming it, and creates nothing", async () => {
      const store = await withSource();
      const variables = await decodedVariables(store);
      variables[3] = { ...(variables[3] as (typeof variables)[number]), value: 1.5 };
      const error = await expectStateError(
        () => store.importVariables("target", { revision: 6, metadata: {}, variables }),
        "invalid_export",
      );
      expect(error.message).toContain("variables[3].value");
      await expectStateError(() => store.getSession("target"), "session_expired");
      const badRevision = await expectStateError(
        async () =>
          store.importVariables("target", {
            revision: -1,
            metadata: {},
            variables: await decodedVariables(store),
          }),
        "invalid_export",
      );
      expect(badRevision.message).toContain("revision must be a non-negative integer");
    });

    it("a conflicting id is already_exists and imports nothing", async () => {
      const store = await withSource();
      await store.initializeSession("target");
      await store.register("target", "kept", "integer", 1);
      const kept = await store.getVariable("target", "kept");
      const variables = [...(await decodedVariables(store)), kept].map((variable, index) =>
        index < 4 ? { ...variable, name: `fresh_${index}`, id: `var_${String(index).repeat(24)}` } : variable,
      );
      let error: unknown;
      try {
        await store.importVariables("target", { revision: 1, metadata: {}, variables });
      } catch (caught) {
        error = caught;
      }
      expect(isStateError(error, "already_exists")).toBe(true);
      expect((await store.list("target")).map((variable) => variable.name)).toEqual(["kept"]);
    });
  });
}
