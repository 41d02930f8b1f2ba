import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { StoreSuiteContext } from "./context.js";
import { isListed, recordingListener, sleep, waitUntilExpired } from "./support.js";

/**
 * Sliding TTLs on the backend's own clock: short real TTLs, waited for by polling
 * `listSessions` (which does not slide them) within 20 TTLs.
 */
export function describeExpiry(context: StoreSuiteContext): void {
  const ttl = context.ttlSeconds;
  const expiryBound = () => Math.max(20 * ttl * 1000, context.eventTimeoutMs);

  describe("sessions: TTL", () => {
    it("an idle session expires within 20 TTLs, and then every call answers session_expired", async () => {
      const store = await context.open({ ttlSeconds: ttl });
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 1);
      await waitUntilExpired(store, "s", expiryBound());
      for (const [what, action] of [
        ["getSession", () => store.getSession("s")],
        ["heartbeat", () => store.heartbeat("s")],
        ["getVariable", () => store.getVariable("s", "x")],
        ["set", () => store.set("s", "x", 2)],
        ["register", () => store.register("s", "y", "integer", 1)],
        ["watch", () => store.watch("s", ["x"], recordingListener())],
      ] as const) {
        const error = await expectStateError(action, "session_expired", what);
        expect(error.message).toContain('session "s"');
      }
      expect(await store.deleteSession("s")).toBe(false);
      const again = await store.initializeSession("s");
      expect(again.created).toBe(true);
      expect(again.session.variableCount).toBe(0);
    });

    it("every operation on a session and heartbeat() slide its TTL: activity keeps it alive past 3 TTLs", async () => {
      // At least a second, so that only a pause of most of it between two steps could fail this.
      const lively = Math.max(1, ttl);
      const store = await context.open({ ttlSeconds: lively });
      const { session } = await store.initializeSession("s");
      await store.register("s", "x", "integer", 1);
      const until = Date.now() + 3 * lively * 1000;
      let step = 0;
      while (Date.now() < until) {
        await sleep((lively * 1000) / 10);
        if (step++ % 2 === 0) expect((await store.getVariable("s", "x")).value).toBe(1);
        else await store.heartbeat("s");
      }
      expect(await isListed(store, "s")).toBe(true);
      const info = await store.getSession("s");
      expect(info.incarnation).toBe(session.incarnation);
      expect(info.lastAccessedAt).toBeGreaterThan(session.lastAccessedAt);
      expect(info.expiresAt).toBeGreaterThan(session.expiresAt);
    });

    it("heartbeat() moves expiresAt on by the time since the last access", async () => {
      const store = await context.open({ ttlSeconds: 60 });
      const { session } = await store.initializeSession("s");
      await sleep(30);
      const beat = await store.heartbeat("s");
      expect(beat.expiresAt).toBeGreaterThan(session.expiresAt);
      expect(beat.expiresAt).toBe(beat.lastAccessedAt + 60_000);
    });

    it("a per-session ttlSeconds overrides the store's, also when fractional", async () => {
      const store = await context.open({ ttlSeconds: 60 });
      const short = await store.initializeSession("short", { ttlSeconds: ttl });
      expect(short.session.ttlSeconds).toBe(ttl);
      // Within a millisecond: a backend may keep times in whole milliseconds.
      expect(
        Math.abs(short.session.expiresAt - short.session.lastAccessedAt - ttl * 1000),
      ).toBeLessThanOrEqual(1);
      await store.initializeSession("long");
      await waitUntilExpired(store, "short", expiryBound());
      await expectStateError(() => store.getSession("short"), "session_expired");
      expect((await store.getSession("long")).ttlSeconds).toBe(60);
    });

    it("a watched session does not expire; once its last watch closes, the TTL slides from then", async () => {
      const store = await context.open({ ttlSeconds: ttl });
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 1);
      const listener = recordingListener();
      const watch = await store.watch("s", ["x"], listener);
      // Regression: a process that only watched lost its session after the TTL.
      await sleep(4 * ttl * 1000);
      expect(await isListed(store, "s")).toBe(true);
      expect(listener.ends).toEqual([]);
      const { revision } = await store.set("s", "x", 2);
      await listener.waitForRevision(revision, context.eventTimeoutMs);
      watch.close();
      await waitUntilExpired(store, "s", expiryBound());
      await expectStateError(() => store.getSession("s"), "session_expired");
    });

    it("maxSessions counts only live sessions: an expired one frees its place", async () => {
      const store = await context.open({ maxSessions: 2, ttlSeconds: 60 });
      await store.initializeSession("a");
      await store.initializeSession("b", { ttlSeconds: ttl });
      await waitUntilExpired(store, "b", expiryBound());
      expect((await store.initializeSession("c")).created).toBe(true);
      await expectStateError(() => store.initializeSession("d"), "resource_exhausted");
      expect((await store.listSessions()).sessions.map((session) => session.sessionId)).toEqual(["a", "c"]);
    });
  });
}
