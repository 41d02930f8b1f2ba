// The StateProvider compliance suite against BridgedState on a bridge-server process whose
// sessions live in Redis (`--store redis://…`), and with a second provider of each session on
// another bridge-server on the same Redis: whatever one writes, the other reads, and watches
// see, as on one server.
import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import { describeStateProvider } from "@statebridge/state-provider/testing";
import { afterAll, beforeAll, describe } from "vitest";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "../../session-store-redis/test/support/redis-server.js";
import { createBridgedState } from "../src/index.js";
import { type BridgeTransport, createBridgeTransport } from "../src/transport.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

let redis: RedisServer | undefined;
let first: ServerProcess | undefined;
let second: ServerProcess | undefined;
let administration: BridgeTransport | undefined;

describe.skipIf(redisServerBinary === undefined)(`on the Redis store (${REDIS_MISSING})`, () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    const store = ["--store", `${redis.url}/0`];
    [first, second] = await Promise.all([startServerProcess(store), startServerProcess(store)]);
    administration = createBridgeTransport({ url: first.url });
  }, 60_000);

  afterAll(async () => {
    administration?.close();
    await Promise.all([first?.stop(), second?.stop()]);
    await redis?.stop();
  });

  const cleanup = async (provider: { readonly sessionId: string }) => {
    if (administration === undefined) return;
    await createClient(BridgeService, administration.transport).cleanupSession({
      sessionId: provider.sessionId,
    });
  };

  describeStateProvider(
    "BridgedState, one server on Redis",
    () => createBridgedState({ url: server(first) }),
    {
      makeSecond: (provider) => createBridgedState({ url: server(first), sessionId: provider.sessionId }),
      cleanup,
    },
  );

  describeStateProvider(
    "BridgedState, two servers on one Redis",
    () => createBridgedState({ url: server(first) }),
    {
      makeSecond: (provider) => createBridgedState({ url: server(second), sessionId: provider.sessionId }),
      cleanup,
    },
  );
});

function server(process: ServerProcess | undefined): string {
  if (process === undefined) throw new Error("the bridge-server on Redis did not start");
  return process.url;
}
