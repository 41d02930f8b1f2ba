import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import {
  REDIS_MISSING,
  type RedisServer,
  redisServerBinary,
  startRedisServer,
} from "../../../packages/session-store-redis/test/support/redis-server.js";
import {
  type ServerProcess,
  startServerProcess,
} from "../../../packages/state-bridged/test/support/server-process.js";
import {
  createStreamConsumer,
  type StreamConsumer,
  type StreamWatchHandle,
} from "../../../packages/stream-consumer/dist/index.js";

// What the tests of bridge-servers sharing one Redis use: Redis itself (Debian's
// redis-server, started on a free port), bridge-servers as child processes that can be
// killed, clients, and TypeScript watchers (the stream consumer BridgedState uses).

export { REDIS_MISSING, type RedisServer, redisServerBinary, startRedisServer };

/** Whether these tests can run; the skip message names what is missing. */
export const REDIS_AVAILABLE = redisServerBinary !== undefined;

/** A bridge-server child process on `--store <redis>`, restartable on its port after a kill. */
export interface RedisBridge {
  readonly url: string;
  readonly port: number;
  process(): ServerProcess;
  /** Kills it with SIGKILL, as a crash. */
  kill9(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `bridge-server --store <redisUrl>/0 …args` in a child process. */
export async function startRedisBridge(redisUrl: string, args: readonly string[] = []): Promise<RedisBridge> {
  const store = ["--store", `${redisUrl}/0`, "--shutdown-grace-ms", "200", "--log-level", "warn"];
  let current = await startServerProcess([...store, ...args]);
  const port = Number(new URL(current.url).port);
  return {
    url: current.url,
    port,
    process: () => current,
    async kill9() {
      const exited = new Promise<void>((resolve) => current.child.once("exit", () => resolve()));
      if (current.child.exitCode === null && current.child.signalCode === null) {
        current.child.kill("SIGKILL");
        await exited;
      }
    },
    async restart() {
      current = await startServerProcess([...store, ...args, "--port", String(port)]);
    },
    stop: () => current.stop(),
  };
}

/** A gRPC client of a server (keepalive pings on, as watchers need), closed by `close`. */
export function clientOf(url: string): { client: Client<typeof BridgeService>; close(): void } {
  const sessionManager = new Http2SessionManager(url, { pingIntervalMs: 1000, pingTimeoutMs: 1000 });
  return {
    client: createClient(BridgeService, createGrpcTransport({ baseUrl: url, sessionManager })),
    close: () => sessionManager.abort(),
  };
}

/** A TypeScript watcher of `names` on `url`, reconnecting quickly, with every event it got. */
export async function startWatcher(
  url: string,
  sessionId: string,
  names: readonly string[],
  streams: "multiplexed" | "per-watch" = "multiplexed",
): Promise<{
  events: WatchEvent[];
  handle: StreamWatchHandle;
  consumer: StreamConsumer;
  close(): Promise<void>;
}> {
  const { client, close } = clientOf(url);
  const consumer = createStreamConsumer({
    client,
    sessionId,
    target: url,
    streams,
    heartbeatIntervalMs: 500,
    reconnect: { baseDelayMs: 100, maxDelayMs: 500, maxFailures: 100 },
  });
  const events: WatchEvent[] = [];
  const handle = await consumer.watch(names, (event) => void events.push(event));
  return {
    events,
    handle,
    consumer,
    async close() {
      await consumer.close();
      close();
    },
  };
}

/** The statebridge error code of a failed call. */
export function codeOf(error: unknown): string | undefined {
  return ConnectError.from(error).metadata.get("statebridge-error-code") ?? undefined;
}

/** Resolves once `condition` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
