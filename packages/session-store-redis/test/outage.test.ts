import { randomBytes } from "node:crypto";
import type { SessionStore } from "@statebridge/session-store";
import { afterEach, describe, expect, it } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import { codeOf, recorder, until } from "./support/listeners.js";
import { REDIS_MISSING, redisServerBinary, startRedisServer } from "./support/redis-server.js";

// Redis gone, hung or not there yet: every call fails fast with unavailable, never hangs, and
// the store recovers by itself. Each test starts its own redis-server.
describe.skipIf(redisServerBinary === undefined)(`Redis store outages (${REDIS_MISSING})`, () => {
  const stores: SessionStore[] = [];
  const prefix = `outage-${randomBytes(4).toString("hex")}`;
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it("Redis killed: calls fail with unavailable at once, watches end with unavailable; after a restart the store reconnects by itself", async () => {
    const own = await startRedisServer({ appendonly: true, appendfsync: "always" });
    try {
      const store = await createRedisSessionStore({
        url: own.url,
        keyPrefix: prefix,
        commandTimeoutMs: 1000,
      });
      stores.push(store);
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 7);
      const seen = recorder();
      await store.watch("s", ["x"], seen.listener);
      await own.kill9();
      await until(() => !store.available(), "available() to turn false");
      expect(await codeOf(() => store.getVariable("s", "x"))).toBe("unavailable");
      expect(await codeOf(() => store.set("s", "x", 8))).toBe("unavailable");
      await until(() => seen.ends.length === 1, "the watch to end");
      expect(seen.ends[0]?.code).toBe("unavailable");
      await own.restart();
      await until(() => store.available(), "available() to turn true again");
      // With appendfsync always the session and its value came back.
      expect((await store.getVariable("s", "x")).value).toBe(7);
      await store.set("s", "x", 9);
      expect((await store.getVariable("s", "x")).version).toBe(1);
    } finally {
      await own.stop();
    }
  });

  it("a store created while Redis is down resolves, answers unavailable, and serves once Redis is up", async () => {
    const own = await startRedisServer();
    try {
      await own.kill9();
      const store = await createRedisSessionStore({ url: own.url, keyPrefix: prefix, connectTimeoutMs: 200 });
      stores.push(store);
      expect(store.available()).toBe(false);
      expect(await codeOf(() => store.initializeSession("s"))).toBe("unavailable");
      await own.restart();
      await until(() => store.available(), "available() to turn true");
      expect((await store.initializeSession("s")).created).toBe(true);
    } finally {
      await own.stop();
    }
  });

  it("a Redis that stops answering: calls fail with unavailable by the command deadline, never hang, and work again when it answers", async () => {
    const own = await startRedisServer();
    try {
      const store = await createRedisSessionStore({ url: own.url, keyPrefix: prefix, commandTimeoutMs: 300 });
      stores.push(store);
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 1);
      own.pause();
      const outcomes = await Promise.all([
        codeOf(() => store.getVariable("s", "x")),
        codeOf(() => store.set("s", "x", 2)),
        codeOf(() => store.heartbeat("s")),
      ]);
      expect(outcomes).toEqual(["unavailable", "unavailable", "unavailable"]);
      expect(store.available()).toBe(false);
      own.resume();
      await until(
        async () => (await codeOf(() => store.getVariable("s", "x"))) === "none",
        "calls to work again",
      );
      expect((await store.getVariable("s", "x")).value).toBeGreaterThanOrEqual(1);
    } finally {
      own.resume();
      await own.stop();
    }
  });
});
