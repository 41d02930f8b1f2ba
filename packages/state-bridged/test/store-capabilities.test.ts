import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import { afterEach, describe, expect, it } from "vitest";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "../../session-store-redis/test/support/redis-server.js";
import { type BridgedStateProvider, createBridgedState } from "../src/index.js";

// BridgedState learns from the server's Ping what backs its sessions, when the factory
// connects: capabilities.persistence is true only on a store that keeps sessions across restarts.
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connect(options: Parameters<typeof createBridgeServer>[0]): Promise<BridgedStateProvider> {
  const server: BridgeServer = await createBridgeServer({ host: "127.0.0.1", port: 0, ...options });
  cleanups.push(() => server.close());
  const provider = await createBridgedState({ url: server.url, sessionId: "capabilities" });
  cleanups.push(() => provider.close());
  return provider;
}

describe("BridgedState's store and capabilities", () => {
  it("on the in-memory store: kind memory, no persistence; distribution through the server", async () => {
    const provider = await connect({});
    expect(provider.store).toEqual({ kind: "memory", persistence: false, distribution: false });
    expect(provider.capabilities).toMatchObject({ persistence: false, distribution: true });
  });
});

describe.skipIf(redisServerBinary === undefined)(
  `BridgedState's store and capabilities on Redis (${REDIS_MISSING})`,
  () => {
    it("with the append-only file on: kind redis, persistence and distribution", async () => {
      const redis: RedisServer = await startRedisServer({ appendonly: true });
      cleanups.push(() => redis.stop());
      const provider = await connect({ storeUrl: `${redis.url}/0` });
      expect(provider.store).toEqual({ kind: "redis", persistence: true, distribution: true });
      expect(provider.capabilities).toMatchObject({ persistence: true, distribution: true });
    });

    it("without persistence: kind redis, distribution, no persistence", async () => {
      const redis = await startRedisServer();
      cleanups.push(() => redis.stop());
      const provider = await connect({ storeUrl: redis.url });
      expect(provider.store).toEqual({ kind: "redis", persistence: false, distribution: true });
      expect(provider.capabilities).toMatchObject({ persistence: false });
    });
  },
);
