import { isStateError } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "../src/index.js";
import { recordingListener } from "../src/testing/index.js";
import { manualClock } from "./manual-clock.js";

// What only the in-memory store can show: its injectable clock, its own sweep, and the exact
// counts and messages of a store that sees every session. The store suite covers the rest.

const stores: SessionStore[] = [];
function open(options: SessionStoreOptions = {}): SessionStore {
  const store = createSessionStore(options);
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  vi.useRealTimers();
});

describe("in-memory sessions", () => {
  it("describes itself as memory, neither persistent nor distributed, and is available until closed", async () => {
    const store = open();
    expect(store.description).toEqual({ kind: "memory", persistence: false, distribution: false });
    expect(store.available()).toBe(true);
    await store.close();
    expect(store.available()).toBe(false);
  });

  it("takes its times from the now option, and every operation slides the TTL from then", async () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    const { session } = await store.initializeSession("s");
    expect(session).toMatchObject({
      createdAt: clock.now(),
      lastAccessedAt: clock.now(),
      expiresAt: clock.now() + 10_000,
    });
    const { variable } = await store.register("s", "x", "integer", 1);
    expect(variable).toMatchObject({ createdAt: clock.now(), updatedAt: clock.now() });
    for (let step = 0; step < 5; step++) {
      clock.advance(9_000);
      expect((await store.getVariable("s", "x")).value).toBe(1);
    }
    // 45 s after creation, still alive because every read slid the TTL.
    const info = await store.getSession("s");
    expect(info.expiresAt).toBe(clock.now() + 10_000);
    expect(info.lastAccessedAt).toBe(clock.now());
    clock.advance(5);
    await store.set("s", "x", 2);
    expect((await store.getVariable("s", "x")).updatedAt).toBe(clock.now());
  });

  it("an idle session expires at its TTL to the millisecond, and says so", async () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    await store.initializeSession("s");
    clock.advance(9_999);
    expect((await store.heartbeat("s")).expiresAt).toBe(clock.now() + 10_000);
    clock.advance(10_000);
    const error = await expectStateError(() => store.getSession("s"), "session_expired");
    expect(error.message).toBe('session_expired: session "s" has expired (no activity within its TTL)');
    expect(store.stats()).toMatchObject({ sessionsExpired: 1, sessionsCurrent: 0 });
  });

  it("sweep() removes only expired sessions and counts them; a watched session does not expire", async () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10 });
    for (const id of ["idle", "busy", "watched"]) await store.initializeSession(id);
    await store.register("watched", "x", "integer", 1);
    const listener = recordingListener();
    const watch = await store.watch("watched", ["x"], listener);
    clock.advance(6_000);
    await store.heartbeat("busy");
    clock.advance(6_000);
    expect(await store.sweep()).toBe(1);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 2, sessionsExpired: 1, watchers: 1 });
    clock.advance(60_000);
    expect(await store.sweep()).toBe(1);
    expect(listener.ends).toHaveLength(0);
    watch.close();
    clock.advance(9_000);
    expect(await store.sweep()).toBe(0);
    clock.advance(2_000);
    expect(await store.sweep()).toBe(1);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 0, sessionsExpired: 3 });
  });

  it("the sweep timer removes expired sessions on its own", async () => {
    vi.useFakeTimers();
    const store = open({ ttlSeconds: 5, sweepIntervalMs: 1_000 });
    await store.initializeSession("s");
    await vi.advanceTimersByTimeAsync(4_000);
    expect(store.stats().sessionsCurrent).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(store.stats()).toMatchObject({ sessionsCurrent: 0, sessionsExpired: 1 });
  });

  it("tells a deleted session from an expired or unknown one, as far as endedSessionsRemembered reaches", async () => {
    const store = open({ endedSessionsRemembered: 2 });
    await store.initializeSession("s");
    await store.deleteSession("s");
    const deleted = await expectStateError(() => store.getVariable("s", "x"), "session_expired");
    expect(deleted.message).toBe('session_expired: session "s" was deleted');
    const unknown = await expectStateError(() => store.register("ghost", "x", "float", 1), "session_expired");
    expect(unknown.message).toBe('session_expired: session "ghost" does not exist or has expired');
    for (const id of ["a", "b"]) {
      await store.initializeSession(id);
      await store.deleteSession(id);
    }
    await expect(store.getSession("s")).rejects.toThrow(/does not exist or has expired/);
    await expect(store.getSession("a")).rejects.toThrow(/was deleted/);
    await expect(store.getSession("b")).rejects.toThrow(/was deleted/);
  });

  it("counts sessions created, deleted and expired, and holds none after close()", async () => {
    const clock = manualClock();
    const store = open({ now: clock.now, ttlSeconds: 10, maxSessions: 2 });
    await store.initializeSession("a");
    await store.initializeSession("b");
    await store.initializeSession("a");
    await store.importSession("b", await store.exportSession("a"));
    await store.deleteSession("b");
    clock.advance(11_000);
    // At the session limit, expired sessions are swept before a new one is refused.
    await store.initializeSession("c");
    await store.initializeSession("d");
    expect(store.stats()).toMatchObject({
      sessionsCreated: 4,
      sessionsDeleted: 1,
      sessionsExpired: 1,
      sessionsCurrent: 2,
    });
    await store.close();
    expect(store.stats()).toMatchObject({ sessionsCurrent: 0, watchers: 0 });
  });

  it("refuses a malformed maxMemoryBytes or endedSessionsRemembered with invalid_value, synchronously", () => {
    for (const options of [{ maxMemoryBytes: 0 }, { endedSessionsRemembered: -1 }, { sweepIntervalMs: 0 }]) {
      let error: unknown;
      try {
        createSessionStore(options);
      } catch (caught) {
        error = caught;
      }
      expect(isStateError(error, "invalid_value"), JSON.stringify(options)).toBe(true);
    }
  });
});
