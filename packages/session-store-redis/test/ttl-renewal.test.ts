import { randomBytes } from "node:crypto";
import type { SessionStore } from "@statebridge/session-store";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore, sessionKeys } from "../src/index.js";
import { codeOf, until } from "./support/listeners.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

/** How far a session's TTL may run down before an access renews it (see the README). */
const slackOf = (ttlMs: number) => Math.min(Math.floor(ttlMs / 10), 60_000);

// The sliding TTL renews only once it has run down by its slack, so that a hot session costs
// Redis one PTTL per access instead of a PEXPIRE of every key. These tests read the keys' TTLs
// from Redis itself, beside the store.
describe.skipIf(redisServerBinary === undefined)(`Redis store TTL renewal (${REDIS_MISSING})`, () => {
  let redis: RedisServer;
  let raw: ReturnType<typeof createClient>;
  const stores: SessionStore[] = [];
  /** A store on a prefix of its own, and a function giving the keys of its sessions. */
  const open = async (options: Parameters<typeof createRedisSessionStore>[0] = {}) => {
    const keyPrefix = `ttl-${randomBytes(4).toString("hex")}`;
    const store = await createRedisSessionStore({ url: redis.url, keyPrefix, ...options });
    stores.push(store);
    return { store, keysOf: (sessionId: string) => sessionKeys(keyPrefix, sessionId) };
  };
  /** Each key's remaining TTL in ms (-2 absent, -1 none), read by one script: at one instant. */
  const ttlsOf = async (keys: readonly string[]) =>
    (await raw.sendCommand(["EVAL", PTTLS, String(keys.length), ...keys])) as number[];

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = createClient({ url: redis.url });
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await raw?.destroy();
    await redis?.stop();
  });

  // Guards the renewal: a read-only session must be kept alive by its reads alone.
  it("a session only read, at intervals shorter than its TTL, never expires; each read leaves it at least TTL − slack to live", async () => {
    const ttlMs = 1000;
    const { store, keysOf } = await open({ ttlSeconds: ttlMs / 1000 });
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 7);
    const session = keysOf("s").session;
    const end = Date.now() + 4 * ttlMs;
    let reads = 0;
    while (Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, ttlMs / 4));
      const before = performance.now();
      expect((await store.getVariable("s", "x")).value).toBe(7);
      const [remaining] = (await ttlsOf([session])) as [number];
      const elapsed = performance.now() - before;
      expect(remaining).toBeLessThanOrEqual(ttlMs);
      expect(remaining).toBeGreaterThanOrEqual(ttlMs - slackOf(ttlMs) - Math.ceil(elapsed) - 1);
      reads++;
    }
    expect(reads).toBeGreaterThanOrEqual(8);
    // Left alone, it expires: never later than one TTL after the last access.
    expect((await ttlsOf([session]))[0]).toBeLessThanOrEqual(ttlMs);
    await until(async () => (await raw.exists(session)) === 0, "the session to expire", 20 * ttlMs);
    expect(await codeOf(() => store.getVariable("s", "x"))).toBe("session_expired");
  }, 60_000);

  it("every key of a session expires with it: keys a write creates get its expiry even when the write does not renew the TTL", async () => {
    // The store's TTL is longer than the session's: a blob's hash, created before the script
    // with the store's TTL, must still not outlive the session.
    const { store, keysOf } = await open({ ttlSeconds: 3600 });
    await store.initializeSession("s", { ttlSeconds: 600 });
    await store.register("s", "x", "string", "a");
    // The first write creates the change log and the history list, the large value the blobs hash.
    await store.set("s", "x", "b");
    await store.set("s", "x", "c".repeat(100_000));
    await store.set("s", "x", "d");
    const keys = keysOf("s");
    const names = ["names", "variables", "order", "log", "history", "blobs"] as const;
    const [session, ...others] = await ttlsOf([keys.session, ...names.map((name) => keys[name])]);
    expect(session).toBeGreaterThan(0);
    expect(session).toBeLessThanOrEqual(600_000);
    names.forEach((name, index) => {
      // Every key exists (-2 would be absent, -1 without a TTL) and expires with the session hash.
      expect(others[index], name).toBe(session);
    });
  });

  it("heartbeat() always renews the TTL in full, also within the slack", async () => {
    const { store, keysOf } = await open({ ttlSeconds: 600 });
    const { session } = await store.initializeSession("s");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const read = await store.getSession("s");
    // Within the slack a read does not renew: the session reports the access that did.
    expect(read.expiresAt).toBe(session.expiresAt);
    const beat = await store.heartbeat("s");
    expect(beat.expiresAt).toBeGreaterThan(session.expiresAt);
    expect(beat.expiresAt).toBe(beat.lastAccessedAt + 600_000);
    const [remaining] = (await ttlsOf([keysOf("s").session])) as [number];
    expect(remaining).toBeGreaterThan(600_000 - 1000);
  });
});

/** Returns PTTL of every key given. */
const PTTLS = "local out = {} for i, key in ipairs(KEYS) do out[i] = redis.call('PTTL', key) end return out";
