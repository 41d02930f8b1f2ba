import { randomBytes } from "node:crypto";
import type { SessionStore } from "@statebridge/session-store";
import { StateError, type VariableType } from "@statebridge/state-provider";
import { expectStateError } from "@statebridge/state-provider/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

// A store writes with the variable headers (id, type, constraints) it cached. Regression test
// for a header gone stale because the variable was deleted and registered again with another
// type through another store: what the stale header refuses (a value, what a decoder makes of
// it) is refused only if a fresh header refuses it too.

describe.skipIf(redisServerBinary === undefined)(
  `headers cached by one store, changed through another (${REDIS_MISSING})`,
  () => {
    let redis: RedisServer;
    const stores: SessionStore[] = [];
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await Promise.all(stores.map((store) => store.close()));
      await redis?.stop();
    });

    /** Two stores on one namespace; "x" is an integer that `cached` has written, then a string. */
    async function staleStores(): Promise<{ cached: SessionStore; other: SessionStore }> {
      const keyPrefix = `stale-${randomBytes(4).toString("hex")}`;
      const cached = await createRedisSessionStore({ url: redis.url, keyPrefix });
      const other = await createRedisSessionStore({ url: redis.url, keyPrefix });
      stores.push(cached, other);
      await cached.initializeSession("s");
      await cached.register("s", "x", "integer", 0);
      await cached.set("s", "x", 1);
      await cached.updateMany("s", [["x", 2]], { atomic: true });
      await other.delete("s", "x");
      await other.register("s", "x", "string", "");
      return { cached, other };
    }

    it("set() and updateMany() take a value of the new type, and a decoder is given the new type", async () => {
      const { cached, other } = await staleStores();
      expect((await cached.set("s", "x", "plain")).version).toBe(1);
      await other.delete("s", "x");
      await other.register("s", "x", "boolean", false);
      const types: VariableType[] = [];
      const decoder = (type: VariableType) => {
        types.push(type);
        if (type !== "boolean") throw new StateError("invalid_value", `decoded as a ${type}`);
        return true;
      };
      expect((await cached.set("s", "x", decoder)).version).toBe(1);
      expect(types.at(-1)).toBe("boolean");
      expect((await other.getVariable("s", "x")).value).toBe(true);
      await other.delete("s", "x");
      await other.register("s", "x", "integer", 0);
      const { versions } = await cached.updateMany("s", [["x", 7]], { atomic: true });
      expect(versions.get("x")).toBe(1);
      expect((await other.getVariable("s", "x")).value).toBe(7);
    });

    it("a value of the old type is refused with the new type's error, and changes nothing", async () => {
      const { cached, other } = await staleStores();
      const error = await expectStateError(() => cached.set("s", "x", 5), "invalid_value");
      expect(error.message).toContain('"x"');
      await expectStateError(() => cached.updateMany("s", [["x", 5]], { atomic: true }), "invalid_value");
      expect(await other.getVariable("s", "x")).toMatchObject({ value: "", version: 0 });
    });
  },
);
