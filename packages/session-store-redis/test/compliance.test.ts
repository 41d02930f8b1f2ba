import { randomBytes } from "node:crypto";
import type { SessionStore } from "@statebridge/session-store";
import { createStoreProvider, describeSessionStore } from "@statebridge/session-store/testing";
import { createSessionId } from "@statebridge/state-provider";
import { describeStateProvider } from "@statebridge/state-provider/testing";
import { afterAll, beforeAll, describe } from "vitest";
import { createRedisSessionStore } from "../src/index.js";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "./support/redis-server.js";

// One Redis for the file; every store gets a key prefix of its own, so no two see each other.
let redis: RedisServer;
let shared: SessionStore;
const freshPrefix = () => `compliance-${randomBytes(6).toString("hex")}`;

describe.skipIf(redisServerBinary === undefined)(`Redis SessionStore (${REDIS_MISSING})`, () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    shared = await createRedisSessionStore({ url: redis.url, keyPrefix: freshPrefix() });
  });
  afterAll(async () => {
    await shared?.close();
    await redis?.stop();
  });

  describeSessionStore("store suite on Redis", (options) =>
    createRedisSessionStore({ ...options, url: redis.url, keyPrefix: freshPrefix() }),
  );

  describeStateProvider(
    "provider suite through a Redis store",
    async () => {
      const sessionId = createSessionId();
      await shared.initializeSession(sessionId);
      return createStoreProvider(shared, sessionId);
    },
    {
      makeSecond: (first) => createStoreProvider(shared, first.sessionId),
      cleanup: async (provider) => {
        await shared.deleteSession(provider.sessionId);
      },
    },
  );
});
