import { randomBytes } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import type { SessionStore } from "@statebridge/session-store";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore, sessionKeys } from "../src/index.js";
import { recorder, until } from "./support/listeners.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

// A server's feed follows (reads, and keeps alive) the sessions its watches are on, and only
// those: a session whose watches have all ended is left to its TTL.
describe.skipIf(redisServerBinary === undefined)(`Redis store change feed (${REDIS_MISSING})`, () => {
  let redis: RedisServer;
  let raw: ReturnType<typeof createClient>;
  const stores: SessionStore[] = [];
  let prefix = "";
  const open = async (options: Parameters<typeof createRedisSessionStore>[0] = {}) => {
    const store = await createRedisSessionStore({ url: redis.url, keyPrefix: prefix, ...options });
    stores.push(store);
    return store;
  };

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

  // Regression: a session whose watches all ended this way stayed followed, and kept alive
  // every keep-alive interval, until the store closed: it never expired.
  it("a watch that falls behind ends with unavailable, and a session left without watches is no longer kept alive", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    // No history: the value a write replaced is dropped by the write after the next one.
    const store = await open({ historySize: 0, ttlSeconds: 1 });
    await store.initializeSession("s");
    await store.register("s", "x", "string", "a");
    const watched = recorder();
    await store.watch("s", ["x"], watched.listener);
    // Large values are blobs; three writes sent together run before the feed fetches the first
    // one's value, which the third has dropped by then.
    await Promise.all(["b", "c", "d"].map((letter) => store.set("s", "x", letter.repeat(70_000))));
    await until(() => watched.ends.length > 0, "the watch to end");
    expect(watched.ends.map((error) => error.code)).toEqual(["unavailable"]);
    expect(store.stats().watchers).toBe(0);
    // Nothing touches the session now (the test looks at its key beside the store): it expires
    // after its 1 s TTL.
    const { session } = sessionKeys(prefix, "s");
    expect(await raw.exists(session)).toBe(1);
    await until(async () => (await raw.exists(session)) === 0, "the session to expire", 6_000);
  }, 20_000);

  it("a deleted session's watchers on another server end with session_expired saying so", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    const deleter = await open();
    const watcher = await open();
    await deleter.initializeSession("s");
    await deleter.register("s", "x", "integer", 0);
    const watched = recorder();
    await watcher.watch("s", ["x"], watched.listener);
    await deleter.deleteSession("s");
    await until(() => watched.ends.length > 0, "the watch to end");
    expect(watched.ends.map((error) => error.code)).toEqual(["session_expired"]);
    expect(watched.ends[0]?.message).toContain("was deleted");
  });

  // Regression: the feed read on its own connection without waiting for it to connect, so a
  // store's first watches, made before it had, all ended at once with unavailable.
  it("a store's first watch, made before the feed's own connection has connected, is served", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    const proxy = await slowAfterFirst(redis.port, 400);
    try {
      const store = await open({ url: `redis://127.0.0.1:${proxy.port}` });
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 0);
      const watched = recorder();
      await store.watch("s", ["x"], watched.listener);
      const { revision } = await store.set("s", "x", 1);
      await until(
        () => watched.batches.at(-1)?.revision === revision || watched.ends.length > 0,
        "the write",
      );
      expect(watched.ends.map((error) => error.message)).toEqual([]);
      expect(watched.batches.map((batch) => batch.events[0]?.newValue)).toEqual([1]);
    } finally {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      proxy.close();
    }
  }, 20_000);
});

/** A proxy to `port` that passes the first connection at once and holds each later one `delayMs`. */
async function slowAfterFirst(port: number, delayMs: number) {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    const delay = accepted++ === 0 ? 0 : delayMs;
    const upstream = connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    client.pause();
    setTimeout(() => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
