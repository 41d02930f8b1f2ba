import { randomBytes } from "node:crypto";
import type { SessionStore, WatchEventBatch, WatchSubscription } from "@statebridge/session-store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import { recorder, until } from "./support/listeners.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

const NAMES = ["x0", "x1", "x2", "x3", "x4"];

/**
 * Checks one watcher's batches from `start`: revisions rise, and each variable's versions go
 * up by exactly one from its initial event (nothing lost, nothing repeated). @returns the last
 * value seen of each variable.
 */
function checkHistory(batches: readonly WatchEventBatch[], label: string): Map<string, unknown> {
  const versions = new Map<string, number>();
  const values = new Map<string, unknown>();
  let revision = -1;
  for (const batch of batches) {
    expect(batch.revision, `${label}: revisions rise`).toBeGreaterThan(revision);
    revision = batch.revision;
    for (const event of batch.events) {
      const before = versions.get(event.name);
      if (event.type === "value_change" && before !== undefined) {
        expect(event.version, `${label}: ${event.name} after version ${before}`).toBe(before + 1);
      }
      versions.set(event.name, event.version);
      values.set(event.name, event.newValue);
    }
  }
  return values;
}

describe.skipIf(redisServerBinary === undefined)(`two stores, one Redis (${REDIS_MISSING})`, () => {
  let redis: RedisServer;
  const stores: SessionStore[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await redis?.stop();
  });

  it("watchers on one store, and watchers that keep resuming, see every write made through the other once, in order", async () => {
    const prefix = `history-${randomBytes(4).toString("hex")}`;
    const watching = await createRedisSessionStore({ url: redis.url, keyPrefix: prefix });
    const writing = await createRedisSessionStore({ url: redis.url, keyPrefix: prefix });
    stores.push(watching, writing);
    await writing.initializeSession("s");
    for (const name of NAMES) await writing.register("s", name, "integer", 0);
    const steady = Array.from({ length: 4 }, () => recorder());
    for (const watcher of steady)
      await watching.watch("s", NAMES, watcher.listener, { includeInitial: true });
    // A watcher that closes and resumes from the last revision it had, again and again.
    const resumed = recorder();
    let subscription: WatchSubscription = await watching.watch("s", NAMES, resumed.listener, {
      includeInitial: true,
    });
    let random = 12345;
    const next = (bound: number) => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random % bound;
    };
    let counter = 0;
    for (let operation = 0; operation < 300; operation++) {
      if (next(4) === 0) {
        const picked = [...new Set([NAMES[next(5)], NAMES[next(5)], NAMES[next(5)]])] as string[];
        await writing.updateMany(
          "s",
          picked.map((name) => [name, ++counter] as const),
          { atomic: true },
        );
      } else {
        await writing.set("s", NAMES[next(5)] as string, ++counter);
      }
      if (operation % 25 === 0) {
        subscription.close();
        const from = resumed.batches.at(-1)?.revision ?? 0;
        subscription = await watching.watch("s", NAMES, resumed.listener, { fromRevision: from });
      }
    }
    const last = (await writing.getSession("s")).revision;
    const final = new Map((await writing.list("s")).map((variable) => [variable.name, variable.value]));
    for (const [index, watcher] of [...steady, resumed].entries()) {
      await until(
        () => watcher.batches.at(-1)?.revision === last || watcher.ends.length > 0,
        `watcher ${index}`,
      );
      expect(watcher.ends).toEqual([]);
      expect(checkHistory(watcher.batches, `watcher ${index}`)).toEqual(final);
    }
    subscription.close();
  });
});
