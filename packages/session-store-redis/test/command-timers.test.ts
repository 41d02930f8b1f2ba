import { createHook } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

// Every command has a deadline; a command that was answered must leave nothing of it armed.
describe.skipIf(redisServerBinary === undefined)(`Redis store command deadlines (${REDIS_MISSING})`, () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  // Regression: node-redis's per-command `timeout` armed an AbortSignal.timeout that nothing
  // cleared, so every answered command fired it (and built a DOMException) seconds later,
  // costing about as much CPU again as the call itself on a busy server.
  it("an answered command leaves no timer armed: its deadline is cleared with its answer", async () => {
    const store = await createRedisSessionStore({
      url: redis.url,
      keyPrefix: `timers-${randomBytes(4).toString("hex")}`,
      commandTimeoutMs: 60_000,
    });
    try {
      await store.initializeSession("s");
      await store.register("s", "x", "integer", 0);
      const armed = new Set<number>();
      let counting = true;
      const hook = createHook({
        init(asyncId, type) {
          if (counting && type === "Timeout") armed.add(asyncId);
        },
        destroy(asyncId) {
          armed.delete(asyncId);
        },
      }).enable();
      try {
        for (let index = 1; index <= 50; index++) {
          await store.set("s", "x", index);
          expect((await store.getVariable("s", "x")).value).toBe(index);
        }
        counting = false;
        // Destroy hooks run after the current tick: let them.
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        hook.disable();
      }
      expect(armed.size).toBe(0);
    } finally {
      await store.close();
    }
  });
});
