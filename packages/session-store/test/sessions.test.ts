import { isStateError } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createSessionStore, type SessionStore } from "../src/index.js";
import { manualClock, recordingListener } from "./recording-listener.js";

const stores: SessionStore[] = [];
function open(options: Parameters<typeof createSessionStore>[0] = {}): SessionStore {
  const store = createSessionStore(options);
  stores.push(store);
  return store;
}

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  vi.useRealTimers();
});

function errorOf(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected the action to throw");
}

describe("sessions", () => {
  it("initializeSession() creates a session once and then returns the same one", () => {
    const clock = manualClock();
    const store = open({ now: clock.now });
    const first = store.initializeSession("s1", { metadata: { owner: "test" } });
    expect(first.created).toBe(true);
    expect(first.session).toMatchObject({ sessionId: "s1", revision: 0, variableCount: 0, ttlSeconds: 3600 });
    expect(first.session.metadata).toEqual({ owner: "test" });
    store.register("s1", "x", "integer", 1);
    clock.advance(1000);
    const second = store.initializeSession("s1");
    expect(second.created).toBe(false);
    expect(second.session.variableCount).toBe(1);
    expect(second.session.createdAt).toBe(first.session.createdAt);
    expect(store.stats().sessionsCreated).toBe(1);
  });

  it("every operation on a session slides its TTL", () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    store.initializeSession("s");
    store.register("s", "x", "integer", 1);
    for (let step = 0; step < 5; step++) {
      clock.advance(9_000);
      expect(store.getVariable("s", "x").value).toBe(1);
    }
    // 45 s after creation, still alive because every read slid the TTL.
    const info = store.getSession("s");
    expect(info.expiresAt).toBe(clock.now() + 10_000);
    expect(info.lastAccessedAt).toBe(clock.now());
  });

  it("heartbeat() slides the TTL and an idle session expires with session_expired", () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    store.initializeSession("s");
    clock.advance(9_999);
    expect(store.heartbeat("s").expiresAt).toBe(clock.now() + 10_000);
    clock.advance(10_000);
    const error = errorOf(() => store.getSession("s"));
    expect(isStateError(error, "session_expired")).toBe(true);
    expect((error as Error).message).toBe(
      'session_expired: session "s" has expired (no activity within its TTL)',
    );
    expect(store.stats()).toMatchObject({ sessionsExpired: 1, sessionsCurrent: 0 });
  });

  it("a per-session ttlSeconds overrides the store's", () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    store.initializeSession("short", { ttlSeconds: 1 });
    store.initializeSession("long");
    clock.advance(2_000);
    expect(store.sweep()).toBe(1);
    expect(() => store.getSession("short")).toThrow(/has expired/);
    expect(store.getSession("long").ttlSeconds).toBe(10);
  });

  it("sweep() removes only expired sessions; a watched session does not expire", () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    store.initializeSession("idle");
    store.initializeSession("busy");
    store.initializeSession("watched");
    store.register("idle", "x", "integer", 1);
    store.register("watched", "x", "integer", 1);
    const listener = recordingListener();
    const watch = store.watch("watched", ["x"], listener);
    clock.advance(6_000);
    store.heartbeat("busy");
    clock.advance(6_000);
    expect(store.sweep()).toBe(1);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 2, sessionsExpired: 1, watchers: 1 });
    expect(() => store.getSession("idle")).toThrow(/has expired/);
    expect(store.getSession("busy").sessionId).toBe("busy");
    // Regression: a process that only watched lost its session after the TTL.
    clock.advance(60_000);
    expect(store.sweep()).toBe(1);
    expect(store.stats().sessionsCurrent).toBe(1);
    expect(listener.ends).toHaveLength(0);
    expect(store.getSession("watched").variableCount).toBe(1);
    // Once the last watch ends, the TTL slides from then.
    watch.close();
    clock.advance(9_000);
    expect(store.sweep()).toBe(0);
    clock.advance(2_000);
    expect(store.sweep()).toBe(1);
    expect(() => store.getSession("watched")).toThrow(/has expired/);
  });

  it("a session created again under the same id has a new incarnation, and a watch naming the old one fails with session_expired", () => {
    const store = open();
    const first = store.initializeSession("s").session.incarnation;
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    expect(store.initializeSession("s").session.incarnation).toBe(first);
    expect(store.getSession("s").incarnation).toBe(first);
    store.register("s", "x", "integer", 1);
    const watch = store.watch("s", ["x"], recordingListener(), { incarnation: first });
    expect(watch.incarnation).toBe(first);
    watch.close();
    store.deleteSession("s");
    const second = store.initializeSession("s").session.incarnation;
    expect(second).not.toBe(first);
    store.register("s", "x", "integer", 1);
    const error = errorOf(() =>
      store.watch("s", ["x"], recordingListener(), { fromRevision: 1, incarnation: first }),
    );
    expect(isStateError(error, "session_expired")).toBe(true);
    expect((error as Error).message).toContain("was recreated");
    expect(store.stats().watchers).toBe(0);
    // Without an incarnation nothing is checked; with the current one the watch opens.
    store.watch("s", ["x"], recordingListener(), { fromRevision: 1 }).close();
    store.watch("s", ["x"], recordingListener(), { fromRevision: 1, incarnation: second }).close();
  });

  it("the sweep timer removes expired sessions on its own", () => {
    vi.useFakeTimers();
    const store = open({ ttlSeconds: 5, sweepIntervalMs: 1_000 });
    store.initializeSession("s");
    vi.advanceTimersByTime(4_000);
    expect(store.stats().sessionsCurrent).toBe(1);
    vi.advanceTimersByTime(2_000);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 0, sessionsExpired: 1 });
  });

  it("deleteSession() ends the session; later calls say it was deleted", () => {
    const store = open();
    store.initializeSession("s");
    store.register("s", "x", "float", 1);
    const listener = recordingListener();
    store.watch("s", ["x"], listener);
    expect(store.deleteSession("s")).toBe(true);
    expect(store.deleteSession("s")).toBe(false);
    expect(listener.ends.map((error) => error.code)).toEqual(["session_expired"]);
    const error = errorOf(() => store.getVariable("s", "x"));
    expect(isStateError(error, "session_expired")).toBe(true);
    expect((error as Error).message).toBe('session_expired: session "s" was deleted');
    expect(store.stats()).toMatchObject({ sessionsDeleted: 1, sessionsCurrent: 0, watchers: 0 });
  });

  it("a session id never seen answers session_expired, not not_found", () => {
    const store = open();
    const error = errorOf(() => store.register("ghost", "x", "float", 1));
    expect(isStateError(error, "session_expired")).toBe(true);
    expect((error as Error).message).toBe('session_expired: session "ghost" does not exist or has expired');
    expect(() => store.heartbeat("ghost")).toThrow(/does not exist or has expired/);
    expect(() => store.watch("ghost", ["x"], recordingListener())).toThrow(/session_expired/);
  });

  it("nothing but initializeSession() recreates an ended session", () => {
    const store = open();
    store.initializeSession("s");
    store.register("s", "x", "float", 1);
    store.deleteSession("s");
    expect(() => store.register("s", "y", "float", 1)).toThrow(/was deleted/);
    expect(() => store.heartbeat("s")).toThrow(/was deleted/);
    const again = store.initializeSession("s");
    expect(again.created).toBe(true);
    expect(again.session.variableCount).toBe(0);
    expect(store.list("s")).toEqual([]);
  });

  it("the record of ended sessions is bounded; forgotten ones read as unknown", () => {
    const store = open({ endedSessionsRemembered: 2 });
    for (const id of ["a", "b", "c"]) {
      store.initializeSession(id);
      store.deleteSession(id);
    }
    expect(() => store.getSession("a")).toThrow(/does not exist or has expired/);
    expect(() => store.getSession("b")).toThrow(/was deleted/);
    expect(() => store.getSession("c")).toThrow(/was deleted/);
  });

  it("an empty or non-string session id is invalid_value", () => {
    const store = open();
    for (const action of [
      () => store.initializeSession(""),
      () => store.getSession(""),
      () => store.register("", "x", "float", 1),
      () => store.getSession(42 as unknown as string),
      () => store.initializeSession("x".repeat(1025)),
    ]) {
      const error = errorOf(action);
      expect(isStateError(error, "invalid_value")).toBe(true);
    }
  });

  it("initializeSession() refuses a malformed ttlSeconds or metadata with invalid_value", () => {
    const store = open();
    expect(() => store.initializeSession("s", { ttlSeconds: 0 })).toThrow(/invalid_value: ttlSeconds/);
    expect(() => store.initializeSession("s", { metadata: [] as never })).toThrow(
      /invalid_value: session metadata/,
    );
    expect(store.stats().sessionsCurrent).toBe(0);
  });

  it("maxSessions refuses a new session with resource_exhausted, after sweeping expired ones", () => {
    const clock = manualClock();
    const store = open({ now: clock.now, maxSessions: 2, ttlSeconds: 10 });
    store.initializeSession("a");
    store.initializeSession("b");
    const error = errorOf(() => store.initializeSession("c"));
    expect(isStateError(error, "resource_exhausted")).toBe(true);
    expect((error as Error).message).toContain("2 sessions, the most allowed");
    expect(store.initializeSession("a").created).toBe(false);
    clock.advance(11_000);
    expect(store.initializeSession("c").created).toBe(true);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 1, sessionsExpired: 2 });
  });

  it("stats() counts operations by kind, failed ones included", () => {
    const store = open();
    store.initializeSession("s");
    store.register("s", "x", "float", 1);
    store.set("s", "x", 2);
    store.set("s", "x", 3);
    expect(() => store.getVariable("s", "missing")).toThrow(/not_found/);
    store.getVariables("s", ["x"]);
    store.list("s");
    const { operations } = store.stats();
    expect(operations.get("initializeSession")).toBe(1);
    expect(operations.get("register")).toBe(1);
    expect(operations.get("set")).toBe(2);
    expect(operations.get("get")).toBe(1);
    expect(operations.get("getMany")).toBe(1);
    expect(operations.get("list")).toBe(1);
    expect(operations.get("delete")).toBeUndefined();
  });

  it("close() ends every watch with closed, and later calls fail with closed", () => {
    const store = createSessionStore();
    store.initializeSession("s");
    store.register("s", "x", "float", 1);
    const listener = recordingListener();
    store.watch("s", ["x"], listener);
    store.close();
    store.close();
    expect(listener.ends.map((error) => error.code)).toEqual(["closed"]);
    expect(() => store.getSession("s")).toThrow(/^closed:/);
    expect(() => store.initializeSession("t")).toThrow(/^closed:/);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 0, watchers: 0 });
  });

  it("refuses malformed store options with invalid_value", () => {
    expect(() => createSessionStore({ ttlSeconds: -1 })).toThrow(/ttlSeconds must be a positive number/);
    expect(() => createSessionStore({ maxSessions: 1.5 })).toThrow(/maxSessions must be a positive integer/);
    expect(() => createSessionStore({ historySize: -1 })).toThrow(
      /historySize must be a non-negative integer/,
    );
  });
});
