import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionInfo, SessionStore } from "../types.js";
import type { StoreSuiteContext } from "./context.js";

/** Every page of a listing, following `next` until it is absent. */
async function allPages(
  store: SessionStore,
  options: { readonly limit?: number; readonly prefix?: string },
): Promise<SessionInfo[][]> {
  const pages: SessionInfo[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listSessions({ ...options, ...(after === undefined ? {} : { after }) });
    pages.push([...page.sessions]);
    if (page.next === undefined) return pages;
    expect(page.next, "next is the last id of its page").toBe(page.sessions.at(-1)?.sessionId);
    after = page.next;
    if (pages.length > 1000) throw new Error("listSessions pages never end");
  }
}

const ids = (sessions: readonly SessionInfo[]) => sessions.map((session) => session.sessionId);

/** `listSessions`: pagination, id order, prefixes, what is left out, and bounds. */
export function describeListSessions(context: StoreSuiteContext): void {
  describe("listSessions", () => {
    it("pages through every live session in id order, each once; next is absent on the last page", async () => {
      const store = await context.open();
      const created = Array.from({ length: 25 }, (_, index) => `s${String(index).padStart(2, "0")}`);
      for (const id of [...created].reverse()) await store.initializeSession(id);
      const pages = await allPages(store, { limit: 10 });
      expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
      expect(pages.flat().map((session) => session.sessionId)).toEqual(created);
      const single = await store.listSessions({ limit: 1000 });
      expect(ids(single.sessions)).toEqual(created);
      expect(single.next).toBeUndefined();
      expect(ids((await store.listSessions({ after: "s07", limit: 3 })).sessions)).toEqual([
        "s08",
        "s09",
        "s10",
      ]);
      // `after` need not be a live id: the listing resumes at the next id above it.
      expect(ids((await store.listSessions({ after: "s07x", limit: 2 })).sessions)).toEqual(["s08", "s09"]);
      expect(await store.listSessions({ after: "s24" })).toEqual({ sessions: [] });
    });

    it("orders ids by code point, not by length or creation", async () => {
      const store = await context.open();
      const created = ["b", "a-2", "a", "B", "a10", "a1", "_", "0"];
      for (const id of created) await store.initializeSession(id);
      expect(ids((await store.listSessions()).sessions)).toEqual([
        "0",
        "B",
        "_",
        "a",
        "a-2",
        "a1",
        "a10",
        "b",
      ]);
    });

    it("gives 100 sessions per page by default", async () => {
      const store = await context.open();
      for (let index = 0; index < 101; index++)
        await store.initializeSession(`s${String(index).padStart(3, "0")}`);
      const first = await store.listSessions();
      expect(first.sessions).toHaveLength(100);
      expect(first.next).toBe("s099");
      expect(ids((await store.listSessions({ after: first.next as string })).sessions)).toEqual(["s100"]);
    });

    it("prefix keeps only ids that start with it, pagination included", async () => {
      const store = await context.open();
      for (const id of ["team-a/1", "team-a/2", "team-a/3", "team-b/1", "team-", "team", "xteam-a/4"]) {
        await store.initializeSession(id);
      }
      const pages = await allPages(store, { prefix: "team-a/", limit: 2 });
      expect(pages.map(ids)).toEqual([["team-a/1", "team-a/2"], ["team-a/3"]]);
      expect(ids((await store.listSessions({ prefix: "team-" })).sessions)).toEqual([
        "team-",
        "team-a/1",
        "team-a/2",
        "team-a/3",
        "team-b/1",
      ]);
      expect((await store.listSessions({ prefix: "nobody" })).sessions).toEqual([]);
      // Glob characters in a prefix are plain text.
      expect((await store.listSessions({ prefix: "team*" })).sessions).toEqual([]);
    });

    it("ids holding key, glob or control characters are distinct sessions, and prefixes match them literally", async () => {
      const store = await context.open();
      const special = [
        "a",
        "a{b}",
        "a}",
        "{a",
        "a:b",
        "a*",
        "a?",
        "a[1]",
        "a\\b",
        "a b",
        "a\nb",
        "a\0b",
        "aé",
        "a😀",
      ];
      for (const [index, id] of special.entries()) {
        await store.initializeSession(id);
        await store.register(id, "x", "integer", index);
      }
      for (const [index, id] of special.entries()) {
        expect((await store.getVariable(id, "x")).value, JSON.stringify(id)).toBe(index);
        expect((await store.getSession(id)).variableCount, JSON.stringify(id)).toBe(1);
      }
      const listed = ids((await store.listSessions()).sessions);
      expect([...listed].sort()).toEqual([...special].sort());
      expect(ids((await store.listSessions({ prefix: "a*" })).sessions)).toEqual(["a*"]);
      expect(ids((await store.listSessions({ prefix: "a[" })).sessions)).toEqual(["a[1]"]);
      expect(ids((await store.listSessions({ prefix: "a?" })).sessions)).toEqual(["a?"]);
      expect(ids((await store.listSessions({ prefix: "{" })).sessions)).toEqual(["{a"]);
      await store.deleteSession("a{b}");
      expect((await store.getVariable("a}", "x")).value).toBe(2);
      await expectStateError(() => store.getSession("a{b}"), "session_expired");
    });

    it("describes each session as getSession() does, and leaves out deleted ones", async () => {
      const store = await context.open();
      await store.initializeSession("kept", { metadata: { owner: "o" } });
      await store.register("kept", "x", "integer", 1);
      await store.set("kept", "x", 2);
      await store.initializeSession("gone");
      await store.deleteSession("gone");
      const { sessions } = await store.listSessions();
      expect(ids(sessions)).toEqual(["kept"]);
      const listed = sessions[0] as SessionInfo;
      const info = await store.getSession("kept");
      expect(listed).toMatchObject({
        sessionId: "kept",
        incarnation: info.incarnation,
        revision: 2,
        variableCount: 1,
        createdAt: info.createdAt,
        ttlSeconds: info.ttlSeconds,
      });
      expect(listed.metadata).toEqual({ owner: "o" });
    });

    it("refuses a limit outside 1 to 1,000 and a malformed after or prefix with invalid_value", async () => {
      const store = await context.open();
      await store.initializeSession("s");
      for (const limit of [0, -1, 1001, 1.5, Number.NaN, "10" as unknown as number]) {
        const error = await expectStateError(
          () => store.listSessions({ limit }),
          "invalid_value",
          `limit ${limit}`,
        );
        expect(error.message).toContain("limit");
      }
      for (const [what, options] of [
        ["a numeric after", { after: 5 as unknown as string }],
        ["a numeric prefix", { prefix: 5 as unknown as string }],
        ["an after of 1,025 characters", { after: "x".repeat(1025) }],
        ["a prefix of 1,025 characters", { prefix: "x".repeat(1025) }],
        ["options that are not an object", "all" as never],
      ] as const) {
        await expectStateError(() => store.listSessions(options), "invalid_value", what);
      }
      expect(ids((await store.listSessions({ limit: 1000 })).sessions)).toEqual(["s"]);
      expect(ids((await store.listSessions({ limit: 1 })).sessions)).toEqual(["s"]);
    });
  });
}
