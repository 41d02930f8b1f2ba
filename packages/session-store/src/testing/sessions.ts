import { isStateError } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { StoreSuiteContext } from "./context.js";
import { recordingListener } from "./support.js";

/** Sessions: creation, incarnations, deletion, bad ids, the session quota, stats and close. */
export function describeSessions(context: StoreSuiteContext): void {
  const { eventTimeoutMs } = context;

  describe("sessions", () => {
    it("initializeSession() creates a session once and then returns the same one", async () => {
      const store = await context.open();
      const first = await store.initializeSession("s1", { metadata: { owner: "test" } });
      expect(first.created).toBe(true);
      expect(first.session).toMatchObject({
        sessionId: "s1",
        revision: 0,
        variableCount: 0,
        ttlSeconds: 3600,
      });
      expect(first.session.metadata).toEqual({ owner: "test" });
      await store.register("s1", "x", "integer", 1);
      const second = await store.initializeSession("s1", { metadata: { owner: "other" }, ttlSeconds: 5 });
      expect(second.created).toBe(false);
      expect(second.session).toMatchObject({ variableCount: 1, revision: 1, ttlSeconds: 3600 });
      expect(second.session.metadata).toEqual({ owner: "test" });
      expect(second.session.createdAt).toBe(first.session.createdAt);
      expect(second.session.incarnation).toBe(first.session.incarnation);
    });

    it("a session's times are epoch milliseconds, and it expires one TTL after its last access", async () => {
      const store = await context.open({ ttlSeconds: 120 });
      const before = Date.now();
      const { session } = await store.initializeSession("s");
      // Loose bounds: a shared backend keeps its own clock, close to but not exactly this one.
      expect(session.createdAt).toBeGreaterThan(before - 60_000);
      expect(session.createdAt).toBeLessThan(Date.now() + 60_000);
      expect(session.lastAccessedAt).toBeGreaterThanOrEqual(session.createdAt);
      expect(session.expiresAt).toBe(session.lastAccessedAt + 120_000);
      const info = await store.getSession("s");
      expect(info.expiresAt).toBe(info.lastAccessedAt + 120_000);
    });

    it("a session created again under the same id has a new incarnation, and a watch naming the old one fails with session_expired", async () => {
      const store = await context.open();
      const first = (await store.initializeSession("s")).session.incarnation;
      expect(first).toMatch(/^[0-9a-f]{16}$/);
      expect((await store.initializeSession("s")).session.incarnation).toBe(first);
      expect((await store.getSession("s")).incarnation).toBe(first);
      await store.register("s", "x", "integer", 1);
      const watch = await store.watch("s", ["x"], recordingListener(), { incarnation: first });
      expect(watch.incarnation).toBe(first);
      watch.close();
      await store.deleteSession("s");
      const second = (await store.initializeSession("s")).session.incarnation;
      expect(second).toMatch(/^[0-9a-f]{16}$/);
      expect(second).not.toBe(first);
      await store.register("s", "x", "integer", 1);
      const error = await expectStateError(
        () => store.watch("s", ["x"], recordingListener(), { fromRevision: 1, incarnation: first }),
        "session_expired",
      );
      expect(error.message).toContain("was recreated");
      expect(store.stats().watchers).toBe(0);
      // Without an incarnation nothing is checked; with the current one the watch opens.
      (await store.watch("s", ["x"], recordingListener(), { fromRevision: 1 })).close();
      const current = await store.watch("s", ["x"], recordingListener(), {
        fromRevision: 1,
        incarnation: second,
      });
      expect(current.incarnation).toBe(second);
      current.close();
    });

    it("deleteSession() ends the session and its watches with session_expired; later calls say so", async () => {
      const store = await context.open();
      await store.initializeSession("s");
      await store.register("s", "x", "float", 1);
      const listener = recordingListener();
      await store.watch("s", ["x"], listener);
      expect(await store.deleteSession("s")).toBe(true);
      expect(await store.deleteSession("s")).toBe(false);
      const ended = await listener.waitForEnd(eventTimeoutMs);
      expect(ended.code).toBe("session_expired");
      expect(listener.ends).toHaveLength(1);
      const error = await expectStateError(() => store.getVariable("s", "x"), "session_expired");
      expect(error.message).toContain('session "s"');
      await expectStateError(() => store.heartbeat("s"), "session_expired");
      expect(store.stats().watchers).toBe(0);
      expect((await store.listSessions()).sessions).toEqual([]);
    });

    it("a session id never seen answers session_expired, not not_found, and is not created", async () => {
      const store = await context.open();
      const calls: [string, () => Promise<unknown>][] = [
        ["getSession", () => store.getSession("ghost")],
        ["heartbeat", () => store.heartbeat("ghost")],
        ["register", () => store.register("ghost", "x", "float", 1)],
        ["getVariable", () => store.getVariable("ghost", "x")],
        ["getVariables", () => store.getVariables("ghost", ["x"])],
        ["set", () => store.set("ghost", "x", 1)],
        ["updateMany", () => store.updateMany("ghost", new Map([["x", 1]]))],
        ["list", () => store.list("ghost")],
        ["delete", () => store.delete("ghost", "x")],
        ["exportSession", () => store.exportSession("ghost")],
        ["watch", () => store.watch("ghost", ["x"], recordingListener())],
      ];
      for (const [what, call] of calls) {
        const error = await expectStateError(call, "session_expired", what);
        expect(error.message).toContain('session "ghost"');
      }
      expect(await store.deleteSession("ghost")).toBe(false);
      expect((await store.listSessions()).sessions).toEqual([]);
      expect(store.stats().watchers).toBe(0);
    });

    it("nothing but initializeSession() recreates an ended session, and it comes back empty", async () => {
      const store = await context.open();
      await store.initializeSession("s");
      await store.register("s", "x", "float", 1);
      await store.deleteSession("s");
      await expectStateError(() => store.register("s", "y", "float", 1), "session_expired");
      await expectStateError(() => store.heartbeat("s"), "session_expired");
      await expectStateError(() => store.set("s", "x", 2), "session_expired");
      const again = await store.initializeSession("s");
      expect(again.created).toBe(true);
      expect(again.session).toMatchObject({ variableCount: 0, revision: 0 });
      expect(await store.list("s")).toEqual([]);
    });

    it("an empty, non-string or over-long session id is invalid_value", async () => {
      const store = await context.open();
      const long = "x".repeat(1025);
      for (const [what, action] of [
        ["initializeSession('')", () => store.initializeSession("")],
        ["getSession('')", () => store.getSession("")],
        ["register('')", () => store.register("", "x", "float", 1)],
        ["getSession(42)", () => store.getSession(42 as unknown as string)],
        ["heartbeat(null)", () => store.heartbeat(null as unknown as string)],
        ["initializeSession(1025 characters)", () => store.initializeSession(long)],
        ["watch('')", () => store.watch("", ["x"], recordingListener())],
      ] as const) {
        await expectStateError(action, "invalid_value", what);
      }
      expect((await store.listSessions()).sessions).toEqual([]);
      // The longest accepted id is 1,024 characters.
      expect((await store.initializeSession("x".repeat(1024))).created).toBe(true);
    });

    it("initializeSession() refuses a malformed ttlSeconds or metadata with invalid_value and creates nothing", async () => {
      const store = await context.open();
      for (const ttlSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "5" as unknown as number]) {
        const error = await expectStateError(
          () => store.initializeSession("s", { ttlSeconds }),
          "invalid_value",
        );
        expect(error.message).toMatch(/^invalid_value: ttlSeconds/);
      }
      const error = await expectStateError(
        () => store.initializeSession("s", { metadata: [] as never }),
        "invalid_value",
      );
      expect(error.message).toMatch(/^invalid_value: session metadata/);
      expect((await store.listSessions()).sessions).toEqual([]);
      await expectStateError(() => store.getSession("s"), "session_expired");
    });

    it("maxSessions refuses a new session with resource_exhausted; the existing ones still initialize", async () => {
      const store = await context.open({ maxSessions: 2 });
      await store.initializeSession("a");
      await store.initializeSession("b");
      const error = await expectStateError(() => store.initializeSession("c"), "resource_exhausted");
      expect(error.message).toContain("2 sessions, the most allowed");
      const document = await store.exportSession("a");
      await expectStateError(() => store.importSession("c", document), "resource_exhausted");
      expect((await store.initializeSession("a")).created).toBe(false);
      expect((await store.listSessions()).sessions.map((session) => session.sessionId)).toEqual(["a", "b"]);
      await store.deleteSession("a");
      expect((await store.initializeSession("c")).created).toBe(true);
    });

    it("stats() counts this store's operations by kind, failed ones included", async () => {
      const store = await context.open();
      await store.initializeSession("s");
      await store.register("s", "x", "float", 1);
      await store.set("s", "x", 2);
      await store.set("s", "x", 3);
      await expectStateError(() => store.getVariable("s", "missing"), "not_found");
      await store.getVariables("s", ["x"]);
      await store.list("s");
      const { operations } = store.stats();
      expect(operations.get("initializeSession")).toBe(1);
      expect(operations.get("register")).toBe(1);
      expect(operations.get("set")).toBe(2);
      expect(operations.get("get")).toBe(1);
      expect(operations.get("getMany")).toBe(1);
      expect(operations.get("list")).toBe(1);
      expect(operations.get("delete")).toBeUndefined();
    });

    it("close() ends every watch with closed, is idempotent, and later calls fail with closed", async () => {
      const store = await context.factory({});
      await store.initializeSession("s");
      await store.register("s", "x", "float", 1);
      const listener = recordingListener();
      await store.watch("s", ["x"], listener);
      await store.close();
      await store.close();
      const ended = await listener.waitForEnd(eventTimeoutMs);
      expect(ended.code).toBe("closed");
      expect(listener.ends).toHaveLength(1);
      for (const action of [
        () => store.getSession("s"),
        () => store.initializeSession("t"),
        () => store.set("s", "x", 2),
        () => store.listSessions(),
      ]) {
        const error = await expectStateError(action, "closed");
        expect(error.message).toMatch(/^closed:/);
      }
      expect(store.stats().watchers).toBe(0);
    });

    it("the factory refuses malformed store options with invalid_value", async () => {
      for (const options of [
        { ttlSeconds: -1 },
        { ttlSeconds: 0 },
        { maxSessions: 1.5 },
        { maxVariablesPerSession: 0 },
        { maxValueBytes: -1 },
        { maxWatchersPerSession: 0 },
        { historySize: -1 },
        { historyBytes: -1 },
      ]) {
        let outcome: unknown;
        try {
          const store = await context.factory(options);
          await store.close();
          outcome = "a store";
        } catch (error) {
          outcome = error;
        }
        expect(isStateError(outcome, "invalid_value"), `${JSON.stringify(options)} is refused`).toBe(true);
      }
    });

    it("describes its backend, and is available while it can be reached", async () => {
      const store = await context.open();
      const { description } = store;
      expect(description.kind).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(typeof description.persistence).toBe("boolean");
      expect(typeof description.distribution).toBe("boolean");
      expect(store.description).toEqual(description);
      expect(store.available()).toBe(true);
    });
  });
}
