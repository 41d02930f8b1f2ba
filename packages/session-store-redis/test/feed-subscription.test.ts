import { randomBytes } from "node:crypto";
import type { SessionStore } from "@statebridge/session-store";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import { recorder, until } from "./support/listeners.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

// A server's feed takes log entries from what the write scripts publish on the session's
// channel, on a connection of its own, and reads the log only to fill gaps. These tests hold
// what happens when that connection is lost.
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

  it("a feed that loses its subscribing connection ends its watches with unavailable; a watch resumed from the last revision seen gets every write made meanwhile once, in order, and then live ones", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    const writer = await open();
    const reader = await open();
    await writer.initializeSession("s");
    await writer.register("s", "x", "integer", 0);
    const first = recorder();
    await reader.watch("s", ["x"], first.listener);
    const { revision: seen } = await writer.set("s", "x", 1);
    await until(() => first.batches.at(-1)?.revision === seen, "the first write");

    // Only the reader's feed has a subscribing connection.
    expect(await raw.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"])).toBeGreaterThanOrEqual(1);
    await until(() => first.ends.length > 0, "the watch to end");
    expect(first.ends.map((error) => error.code)).toEqual(["unavailable"]);

    const missed: number[] = [];
    for (let value = 2; value <= 4; value++) missed.push((await writer.set("s", "x", value)).revision);
    const resumed = recorder();
    await until(async () => {
      try {
        await reader.watch("s", ["x"], resumed.listener, { fromRevision: seen });
        return true;
      } catch {
        return false;
      }
    }, "a watch to open again");
    const { revision: live } = await writer.set("s", "x", 5);
    await until(() => resumed.batches.at(-1)?.revision === live, "the live write");
    expect(resumed.ends).toEqual([]);
    expect(resumed.batches.map((batch) => batch.revision)).toEqual([...missed, live]);
    expect(resumed.batches.map((batch) => batch.events[0]?.newValue)).toEqual([2, 3, 4, 5]);
  });

  it("what is published on a session's channel that is not its next entry changes nothing: a forged deletion, another epoch, malformed text (the log decides)", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    const store = await open();
    const { session } = await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const watched = recorder();
    await store.watch("s", ["x"], watched.listener);
    const { revision } = await store.set("s", "x", 1);
    await until(() => watched.batches.at(-1)?.revision === revision, "the first write");
    const channel = `{${prefix}:s}:c`;
    for (const forged of [
      `e${revision + 1} ${revision} ${session.incarnation} deleted`,
      `e${revision + 1} ${revision} 0123456789abcdef deleted`,
      `c${revision + 1} ${revision} 0123456789abcdef 0 0\n`,
      "not an entry",
      "",
    ]) {
      expect(await raw.sendCommand(["SPUBLISH", channel, forged])).toBe(1);
    }
    const { revision: next } = await store.set("s", "x", 2);
    await until(() => watched.batches.at(-1)?.revision === next, "the next write");
    expect(watched.ends).toEqual([]);
    expect(watched.batches.map((batch) => batch.events[0]?.newValue)).toEqual([1, 2]);
  });

  // Regression: a session whose watches all ended this way stayed followed (subscribed, and
  // kept alive every watchIntervalMs) until the store closed.
  it("a watch that falls behind ends with unavailable, and a session left without watches is no longer followed", async () => {
    prefix = `feed-${randomBytes(4).toString("hex")}`;
    // No history: the value a write replaced is dropped by the write after the next one.
    const store = await open({ historySize: 0 });
    await store.initializeSession("s");
    await store.register("s", "x", "string", "a");
    const watched = recorder();
    await store.watch("s", ["x"], watched.listener);
    const channel = `{${prefix}:s}:c`;
    const subscribers = async () =>
      ((await raw.sendCommand(["PUBSUB", "SHARDNUMSUB", channel])) as [string, number])[1];
    expect(await subscribers()).toBe(1);
    // Large values are blobs; three writes sent together run before the feed fetches the first
    // one's value, which the third has dropped by then.
    await Promise.all(["b", "c", "d"].map((letter) => store.set("s", "x", letter.repeat(70_000))));
    await until(() => watched.ends.length > 0, "the watch to end");
    expect(watched.ends.map((error) => error.code)).toEqual(["unavailable"]);
    await until(async () => (await subscribers()) === 0, "the feed to stop following the session", 3000);
    expect(store.stats().watchers).toBe(0);
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
});
