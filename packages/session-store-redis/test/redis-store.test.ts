import { randomBytes } from "node:crypto";
import type { SessionStore, WatchEventBatch, WatchSubscription } from "@statebridge/session-store";
import type { StateError } from "@statebridge/state-provider";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore, escapeSessionId, sessionKeys } from "../src/index.js";
import { codeOf, recorder, until } from "./support/listeners.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

describe.skipIf(redisServerBinary === undefined)(`Redis store (${REDIS_MISSING})`, () => {
  let redis: RedisServer;
  const stores: SessionStore[] = [];
  const open = async (options: Parameters<typeof createRedisSessionStore>[0] = {}) => {
    const store = await createRedisSessionStore({ url: redis.url, keyPrefix: prefix, ...options });
    stores.push(store);
    return store;
  };
  let prefix = "";

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    prefix = `t-${randomBytes(4).toString("hex")}`;
  });
  afterAll(async () => {
    await redis?.stop();
  });
  prefix = `t-${randomBytes(4).toString("hex")}`;

  it("a session's keys share one hash tag, so one cluster slot, whatever braces or escapes its id holds", () => {
    for (const id of ["plain", "a{b}c", "}{", "%7B", "{", "}", "%", "{}", "x".repeat(1024)]) {
      const keys = sessionKeys("p", id);
      // Redis Cluster hashes what is between the first "{" and the next "}" when that is non-empty.
      const tags = keys.all.map(hashTag);
      expect(new Set(tags).size, id).toBe(1);
      expect(tags[0]).toBe(`p:${escapeSessionId(id)}`);
      expect(new Set(keys.all.map((key) => crc16(hashTag(key)) % 16384)).size).toBe(1);
    }
    // One-to-one: ids that differ never share keys.
    expect(sessionKeys("p", "{").session).not.toBe(sessionKeys("p", "%7B").session);
    expect(sessionKeys("p", "%").session).not.toBe(sessionKeys("p", "%25").session);
  });

  it("malformed options are refused with invalid_value before anything connects", async () => {
    for (const options of [
      { keyPrefix: "a{b" },
      { keyPrefix: "" },
      { url: "http://127.0.0.1:6379" },
      { commandTimeoutMs: 2 ** 31 },
      { watchIntervalMs: 0 },
      { maxSessions: 1.5 },
      { historyBytes: -1 },
    ]) {
      expect(
        await codeOf(() => createRedisSessionStore({ url: redis.url, ...options })),
        JSON.stringify(options),
      ).toBe("invalid_value");
    }
  });

  it("two stores on one Redis: a watcher on one sees the other's writes, batches as one revision, in order", async () => {
    const writer = await open();
    const reader = await open();
    await writer.initializeSession("s");
    await writer.register("s", "x", "integer", 0);
    await writer.register("s", "y", "integer", 0);
    const seen = recorder();
    const subscription = await reader.watch("s", ["x", "y"], seen.listener);
    await writer.set("s", "x", 1);
    const batch = await writer.updateMany(
      "s",
      [
        ["x", 2],
        ["y", 2],
      ],
      { atomic: true },
    );
    await writer.delete("s", "y");
    await until(() => seen.batches.length === 3, "three batches");
    expect(seen.batches.map((each) => each.events.map((event) => `${event.type}:${event.name}`))).toEqual([
      ["value_change:x"],
      ["value_change:x", "value_change:y"],
      ["deleted:y"],
    ]);
    expect(seen.batches[1]?.revision).toBe(batch.revision);
    subscription.close();
  });

  it("a watch resumed while the session's feed is reading for another watch gets every change after its revision once (regression: the read in flight skipped them)", async () => {
    const store = await open();
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const live = recorder();
    await store.watch("s", ["x"], live.listener);
    for (let round = 0; round < 10; round++) {
      const from = (await store.getSession("s")).revision;
      const writes = (async () => {
        for (let value = 1; value <= 30; value++) await store.set("s", "x", value);
      })();
      await new Promise((resolve) => setTimeout(resolve, round));
      const resumed = recorder();
      const subscription = await store.watch("s", ["x"], resumed.listener, { fromRevision: from });
      await writes;
      const last = (await store.getSession("s")).revision;
      await until(
        () => resumed.batches.at(-1)?.revision === last || resumed.ends.length > 0,
        "the last write",
      );
      expect(resumed.ends).toEqual([]);
      expect(resumed.batches.map((batch) => batch.revision)).toEqual(
        Array.from({ length: last - from }, (_, index) => from + 1 + index),
      );
      subscription.close();
    }
  });

  it("historyBytes bounds the change log in bytes: a resume within it replays, one behind it resyncs", async () => {
    // Each set of an integer counts 8 + 8 + 256 bytes: three fit in 900.
    const store = await open({ historyBytes: 900 });
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const revisions: number[] = [];
    for (let value = 1; value <= 5; value++) revisions.push((await store.set("s", "x", value)).revision);
    const replayed = recorder();
    await store.watch("s", ["x"], replayed.listener, { fromRevision: revisions[1] as number });
    await until(() => replayed.batches.length === 3, "three replayed changes");
    expect(replayed.batches.map((batch) => batch.events[0]?.type)).toEqual([
      "value_change",
      "value_change",
      "value_change",
    ]);
    const behind = recorder();
    await store.watch("s", ["x"], behind.listener, { fromRevision: revisions[0] as number });
    expect(
      behind.batches.map((batch) => batch.events.map((event) => `${event.type}:${event.newValue}`)),
    ).toEqual([["resync:5"]]);
  });

  it("maxWatchersPerSession refuses one more watch of a session on this store with resource_exhausted", async () => {
    const store = await open({ maxWatchersPerSession: 2 });
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    await store.watch("s", ["x"], recorder().listener);
    await store.watch("s", ["x"], recorder().listener);
    expect(await codeOf(() => store.watch("s", ["x"], recorder().listener))).toBe("resource_exhausted");
  });

  it("writes go on after Redis forgot its scripts (SCRIPT FLUSH): NOSCRIPT loads them again", async () => {
    const store = await open();
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.sendCommand(["SCRIPT", "FLUSH"]);
    await client.destroy();
    expect((await store.set("s", "x", 1)).version).toBe(1);
    expect((await store.getVariable("s", "x")).value).toBe(1);
  });

  it("description says redis, distributed, and persistent only when Redis keeps AOF or snapshots", async () => {
    const store = await open();
    expect(store.description).toEqual({ kind: "redis", persistence: false, distribution: true });
    const durable = await startRedisServer({ appendonly: true });
    try {
      const other = await createRedisSessionStore({ url: durable.url, keyPrefix: prefix });
      stores.push(other);
      expect(other.description.persistence).toBe(true);
    } finally {
      await durable.stop();
    }
  });

  it("a resumed watch's currentRevision is never ahead of the replay it is handed (regression: it said the session's revision at once)", async () => {
    const store = await open();
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const from = (await store.getSession("s")).revision;
    for (let value = 1; value <= 50; value++) await store.set("s", "x", value);
    const last = (await store.getSession("s")).revision;
    const delivered: number[] = [];
    let subscription: WatchSubscription | undefined;
    const ahead: string[] = [];
    const check = () => {
      const claimed = subscription?.currentRevision() ?? from;
      if (claimed > (delivered.at(-1) ?? from)) ahead.push(`${claimed} > ${delivered.at(-1) ?? from}`);
    };
    subscription = await store.watch(
      "s",
      ["x"],
      {
        onEvents: (batch) => {
          delivered.push(batch.revision);
          check();
        },
        onEnd: () => {},
      },
      { fromRevision: from },
    );
    check();
    await until(() => {
      check();
      return delivered.at(-1) === last;
    }, "the replay");
    expect(ahead).toEqual([]);
    expect(subscription.currentRevision()).toBe(last);
  });

  it("compare-and-set through two stores has exactly one winner per version", async () => {
    const first = await open();
    const second = await open();
    await first.initializeSession("s");
    await first.register("s", "x", "integer", 0);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        (index % 2 === 0 ? first : second).set("s", "x", index, { expectedVersion: 0 }),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") expect((result.reason as StateError).code).toBe("version_conflict");
    }
  });

  it("a 1,000,000-element tensor is written, read back and watched intact", async () => {
    const store = await open();
    await store.initializeSession("big");
    const data = Float64Array.from({ length: 1_000_000 }, (_, index) => index * 0.5);
    await store.register("big", "w", "tensor", { shape: [1000, 1000], data: Array.from(data, () => 0) });
    const seen = recorder();
    await store.watch("big", ["w"], seen.listener);
    await store.set("big", "w", { shape: [1000, 1000], data: Array.from(data) });
    const read = await store.getVariable("big", "w");
    const value = read.value as { shape: number[]; data: number[] };
    expect(value.shape).toEqual([1000, 1000]);
    expect(value.data).toHaveLength(1_000_000);
    expect(value.data[999_999]).toBe(999_999 * 0.5);
    await until(() => seen.batches.length === 1, "the tensor's change");
    const [event] = (seen.batches[0] as WatchEventBatch).events;
    expect((event?.newValue as { data: readonly number[] } | undefined)?.data[123_456]).toBe(123_456 * 0.5);
  });

  it("large values live in blobs outside the scripts, dropped when their history goes: a value rewritten many times holds a bounded number", async () => {
    const store = await open({ historySize: 2 });
    await store.initializeSession("s");
    const big = (seed: number) => Array.from({ length: 20_000 }, (_, index) => index + seed);
    await store.register("s", "e", "embedding", big(0));
    const seen = recorder();
    await store.watch("s", ["e"], seen.listener);
    for (let round = 1; round <= 12; round++) await store.set("s", "e", big(round));
    expect(((await store.getVariable("s", "e")).value as readonly number[])[0]).toBe(12);
    await until(() => seen.batches.length === 12 || seen.ends.length > 0, "every change");
    expect(seen.ends).toEqual([]);
    const last = seen.batches.at(-1)?.events[0];
    expect((last?.oldValue as readonly number[] | undefined)?.[0]).toBe(11);
    expect((last?.newValue as readonly number[] | undefined)?.[0]).toBe(12);
    const client = createClient({ url: redis.url });
    await client.connect();
    const held = Number(await client.sendCommand(["HLEN", sessionKeys(prefix, "s").blobs]));
    await client.destroy();
    // The current value, the replaced values the two kept entries name, one deferred.
    expect(held).toBeLessThanOrEqual(4);
  });

  it("watches added while large values are being written and served get every later change once, in order", async () => {
    const store = await open();
    await store.initializeSession("s");
    const big = (seed: number) => Array.from({ length: 10_000 }, () => seed);
    await store.register("s", "e", "embedding", big(0));
    await store.watch("s", ["e"], recorder().listener);
    const watchers: { from: number; seen: ReturnType<typeof recorder> }[] = [];
    let last = 0;
    const writes = (async () => {
      for (let round = 1; round <= 40; round++) last = (await store.set("s", "e", big(round))).revision;
    })();
    for (let index = 0; index < 15; index++) {
      const seen = recorder();
      const subscription = await store.watch("s", ["e"], seen.listener);
      watchers.push({ from: subscription.startRevision, seen });
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await writes;
    for (const { from, seen } of watchers) {
      await until(
        () => seen.batches.at(-1)?.revision === last || from === last || seen.ends.length > 0,
        "the last write",
      );
      expect(seen.ends).toEqual([]);
      const revisions = seen.batches.map((batch) => batch.revision);
      expect(revisions).toEqual(Array.from({ length: last - from }, (_, index) => from + 1 + index));
      for (const batch of seen.batches) {
        const event = batch.events[0];
        expect((event?.newValue as readonly number[] | undefined)?.[0]).toBe(event?.version ?? -1);
      }
    }
  });

  it("after Redis lost its data (FLUSHALL), the session answers session_expired and is not recreated by a write; a new one has another epoch", async () => {
    const store = await open();
    const { session } = await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const seen = recorder();
    await store.watch("s", ["x"], seen.listener);
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.flushAll();
    await client.destroy();
    await until(() => seen.ends.length === 1, "the watch to end");
    expect(seen.ends[0]?.code).toBe("session_expired");
    expect(await codeOf(() => store.set("s", "x", 1))).toBe("session_expired");
    expect(await codeOf(() => store.register("s", "y", "integer", 1))).toBe("session_expired");
    expect(await codeOf(() => store.getSession("s"))).toBe("session_expired");
    const again = await store.initializeSession("s");
    expect(again.created).toBe(true);
    expect(again.session.incarnation).not.toBe(session.incarnation);
    expect(
      await codeOf(() =>
        store.watch("s", ["x"], recorder().listener, { fromRevision: 0, incarnation: session.incarnation }),
      ),
    ).toBe("session_expired");
  });

  it("a watch keeps alive a session whose own TTL is shorter than the store's (regression: it was slid every second only)", async () => {
    const store = await open({ ttlSeconds: 3600 });
    await store.initializeSession("short", { ttlSeconds: 0.3 });
    await store.register("short", "x", "integer", 0);
    const seen = recorder();
    const subscription = await store.watch("short", ["x"], seen.listener);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(seen.ends).toEqual([]);
    expect((await store.getVariable("short", "x")).value).toBe(0);
    subscription.close();
  });

  it("a watch keeps its session alive past its TTL on Redis; deleting the session ends it with session_expired", async () => {
    const store = await open({ ttlSeconds: 0.4 });
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const seen = recorder();
    const other = await open({ ttlSeconds: 0.4 });
    await store.watch("s", ["x"], seen.listener);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await other.getVariable("s", "x")).value).toBe(0);
    expect(await other.deleteSession("s")).toBe(true);
    await until(() => seen.ends.length === 1, "the watch to end");
    expect(seen.ends[0]?.message).toContain("was deleted");
  });
});

/** The part of a key Redis Cluster hashes. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

/** CRC16-XMODEM, Redis Cluster's key hash. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, "utf8")) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
