import { describe, expect, it } from "vitest";
import { createSessionStore } from "./session-store.js";

describe("the in-memory store's listSessions", () => {
  it("pages live sessions in id order, filtered by prefix, without sliding their TTLs", async () => {
    let clock = 1_000_000;
    const store = createSessionStore({ now: () => clock });
    for (const id of ["b", "a2", "c", "a1", "a3"]) await store.initializeSession(id);
    await store.initializeSession("short", { ttlSeconds: 1 });
    clock += 2_000;
    const first = await store.listSessions({ limit: 2 });
    expect(first.sessions.map((session) => session.sessionId)).toEqual(["a1", "a2"]);
    expect(first.next).toBe("a2");
    const rest = await store.listSessions({ after: first.next as string });
    expect(rest.sessions.map((session) => session.sessionId)).toEqual(["a3", "b", "c"]);
    expect(rest.next).toBeUndefined();
    const prefixed = await store.listSessions({ prefix: "a", after: "a1" });
    expect(prefixed.sessions.map((session) => session.sessionId)).toEqual(["a2", "a3"]);
    expect((await store.listSessions()).sessions[0]?.lastAccessedAt).toBe(1_000_000);
    await store.close();
  });

  it("refuses a limit outside 1..1000 and an after or prefix longer than an identifier", async () => {
    const store = createSessionStore();
    for (const limit of [0, 1001, 1.5, Number.NaN, "10"]) {
      await expect(store.listSessions({ limit: limit as number })).rejects.toMatchObject({
        code: "invalid_value",
      });
    }
    await expect(store.listSessions({ after: "x".repeat(100_000) })).rejects.toMatchObject({
      code: "invalid_value",
    });
    await expect(store.listSessions({ prefix: 7 as unknown as string })).rejects.toMatchObject({
      code: "invalid_value",
    });
    expect((await store.listSessions({ limit: 1000 })).sessions).toEqual([]);
    await store.close();
  });

  it("describes itself as memory, neither persistent nor distributed, and available until closed", async () => {
    const store = createSessionStore();
    expect(store.description).toEqual({ kind: "memory", persistence: false, distribution: false });
    expect(store.available()).toBe(true);
    await store.close();
    expect(store.available()).toBe(false);
    await expect(store.getSession("s")).rejects.toMatchObject({ code: "closed" });
  });
});
