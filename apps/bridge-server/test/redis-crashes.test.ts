import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import {
  PYTHON_GRPC_CAPABILITY,
  pythonGrpcAvailable,
  startPythonWatcher,
} from "../../../packages/stream-consumer/test/support/python-watcher.js";
import {
  clientOf,
  codeOf,
  REDIS_AVAILABLE,
  REDIS_MISSING,
  startRedisBridge,
  startRedisServer,
  startWatcher,
  until,
} from "./support-redis.js";
import { wire } from "./support-values.js";

// Crashes of what a shared store is made of: a bridge-server killed with SIGKILL under load
// and started again, Redis killed under load with and without its append-only file, and a
// Python watcher of one server following writes made through another.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Already gone.
    }
  }
});

/** Writes x = 1, 2, … through `url` until stopped; keeps the revision of each write that succeeded. */
function startWriter(url: string, sessionId: string) {
  const { client, close } = clientOf(url);
  const written = new Map<number, number>();
  let failures = 0;
  let stopped = false;
  let value = 0;
  const running = (async () => {
    while (!stopped) {
      value += 1;
      try {
        const { revision } = await client.setVariable(
          { sessionId, identifier: "x", value: wire.integer(value) },
          { timeoutMs: 3_000 },
        );
        written.set(Number(revision), value);
      } catch {
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  return {
    written,
    failures: () => failures,
    async stop() {
      stopped = true;
      await running;
      close();
    },
  };
}

/** Checks that `events` are one change per revision, consecutive from the first, each once. */
function expectNoGap(events: readonly WatchEvent[], written: ReadonlyMap<number, number>, label: string) {
  const revisions = events.map((event) => event.revision);
  for (let index = 1; index < revisions.length; index++) {
    expect(revisions[index], `${label}: the revision after ${revisions[index - 1]}`).toBe(
      (revisions[index - 1] as number) + 1,
    );
  }
  const byRevision = new Map(events.map((event) => [event.revision, event.newValue]));
  for (const [revision, value] of written) {
    if (revision < (revisions[0] ?? 0)) continue;
    expect(byRevision.get(revision), `${label}: revision ${revision}`).toBe(value);
  }
}

function healthOf(url: string) {
  return createClient(Health, createGrpcTransport({ baseUrl: url }));
}

async function sessionOn(url: string, sessionId: string): Promise<void> {
  const { client, close } = clientOf(url);
  await client.initializeSession({ sessionId });
  await client.registerVariable({ sessionId, name: "x", type: "integer", initialValue: wire.integer(0) });
  close();
}

describe.skipIf(!REDIS_AVAILABLE)(
  `bridge-servers on Redis, through crashes (${REDIS_MISSING})`,
  { timeout: 90_000 },
  () => {
    it("kill -9 of a bridge-server under load: its watchers resume with no gap once it is back, and sessions, values, versions and revisions are intact", async () => {
      const redis = await startRedisServer();
      cleanups.push(() => redis.stop());
      const a = await startRedisBridge(redis.url);
      const b = await startRedisBridge(redis.url);
      cleanups.push(
        () => a.stop(),
        () => b.stop(),
      );
      await sessionOn(b.url, "crash");
      const multiplexed = await startWatcher(a.url, "crash", ["x"], "multiplexed");
      const perWatch = await startWatcher(a.url, "crash", ["x"], "per-watch");
      cleanups.push(
        () => multiplexed.close(),
        () => perWatch.close(),
      );
      const writer = startWriter(b.url, "crash");
      await until(() => writer.written.size >= 50, 10_000, "50 writes went through B");
      await a.kill9();
      const whileDown = writer.written.size;
      await until(() => writer.written.size >= whileDown + 50, 10_000, "50 more writes while A was down");
      await a.restart();
      await until(() => writer.written.size >= whileDown + 150, 10_000, "100 more writes after A came back");
      await writer.stop();
      const last = Math.max(...writer.written.keys());
      for (const [label, watcher] of [
        ["multiplexed", multiplexed],
        ["per-watch", perWatch],
      ] as const) {
        await until(
          () => watcher.events.at(-1)?.revision === last,
          15_000,
          `the ${label} watcher on A reached revision ${last}`,
        );
        expectNoGap(watcher.events, writer.written, label);
        expect(watcher.events[0]?.revision, label).toBe(2);
      }

      await b.kill9();
      await b.restart();
      const { client, close } = clientOf(b.url);
      cleanups.push(close);
      const { session } = await client.getSession({ sessionId: "crash" });
      const { variable } = await client.getVariable({ sessionId: "crash", identifier: "x" });
      expect(Number(session?.revision)).toBe(last);
      expect(variable?.value?.kind.value).toBe(BigInt(writer.written.get(last) as number));
      expect(Number(variable?.version)).toBe(last - 1);
    });

    it("kill -9 of Redis without persistence: calls fail with unavailable within their deadline, health says NOT_SERVING; back empty, the session answers session_expired and its watchers are told", async () => {
      const redis = await startRedisServer();
      cleanups.push(() => redis.stop());
      const a = await startRedisBridge(redis.url);
      cleanups.push(() => a.stop());
      await sessionOn(a.url, "lost");
      const watcher = await startWatcher(a.url, "lost", ["x"]);
      cleanups.push(() => watcher.close());
      const writer = startWriter(a.url, "lost");
      await until(() => writer.written.size >= 20, 10_000, "20 writes went through");
      await redis.kill9();
      const { client, close } = clientOf(a.url);
      cleanups.push(close);
      const started = Date.now();
      const failure = await client
        .getVariable({ sessionId: "lost", identifier: "x" }, { timeoutMs: 5_000 })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(failure?.code).toBe(Code.Unavailable);
      expect(codeOf(failure)).toBe("unavailable");
      const health = healthOf(a.url);
      let status: ServingStatus | undefined;
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        status = (await health.check({ service: "" })).status;
        if (status === ServingStatus.NOT_SERVING) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(ServingStatus.NOT_SERVING);
      await writer.stop();

      await redis.restart();
      const back = Date.now() + 10_000;
      while (Date.now() < back && (await health.check({ service: "" })).status !== ServingStatus.SERVING) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const expired = await client.getSession({ sessionId: "lost" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(codeOf(expired)).toBe("session_expired");
      const ended = await watcher.handle.done;
      expect(ended?.code).toBe("session_expired");
    });

    it("kill -9 of Redis with its append-only file on: the data is back after restart and watchers resume with no gap", async () => {
      const redis = await startRedisServer({ appendonly: true, appendfsync: "always" });
      cleanups.push(() => redis.stop());
      const a = await startRedisBridge(redis.url);
      const b = await startRedisBridge(redis.url);
      cleanups.push(
        () => a.stop(),
        () => b.stop(),
      );
      await sessionOn(b.url, "kept");
      const watcher = await startWatcher(a.url, "kept", ["x"]);
      cleanups.push(() => watcher.close());
      const writer = startWriter(b.url, "kept");
      await until(() => writer.written.size >= 30, 10_000, "30 writes went through B");
      await redis.kill9();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const beforeRestart = writer.written.size;
      await redis.restart();
      await until(() => writer.written.size >= beforeRestart + 30, 20_000, "30 writes after Redis came back");
      await writer.stop();
      const last = Math.max(...writer.written.keys());
      await until(
        () => watcher.events.at(-1)?.revision === last,
        20_000,
        `the watcher reached revision ${last}`,
      );
      expectNoGap(watcher.events, writer.written, "after the Redis restart");
      const { client, close } = clientOf(a.url);
      cleanups.push(close);
      const { session } = await client.getSession({ sessionId: "kept" });
      expect(Number(session?.revision)).toBe(last);
    });

    it.skipIf(!pythonGrpcAvailable())(
      `a Python watcher on A gets every write made through B, in order and once (${PYTHON_GRPC_CAPABILITY})`,
      async () => {
        const redis = await startRedisServer();
        cleanups.push(() => redis.stop());
        const a = await startRedisBridge(redis.url);
        const b = await startRedisBridge(redis.url);
        cleanups.push(
          () => a.stop(),
          () => b.stop(),
        );
        await sessionOn(b.url, "python");
        const python = await startPythonWatcher({
          target: a.url,
          sessionId: "python",
          names: ["x"],
          includeInitial: false,
          heartbeatIntervalMs: 500,
        });
        cleanups.push(() => python.stop());
        const writer = startWriter(b.url, "python");
        await until(() => writer.written.size >= 200, 15_000, "200 writes went through B");
        await writer.stop();
        const last = Math.max(...writer.written.keys());
        await until(
          () => python.events.at(-1)?.revision === last,
          15_000,
          `the Python watcher reached ${last}`,
        );
        expectNoGap(python.events, writer.written, "Python");
        expect(python.events[0]?.revision).toBe(2);
        expect(writer.failures()).toBe(0);
      },
    );
  },
);
