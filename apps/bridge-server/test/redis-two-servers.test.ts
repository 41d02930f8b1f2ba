import { execFileSync } from "node:child_process";
import { Code, ConnectError } from "@connectrpc/connect";
import { WatchEventType, type WatchVariablesResponse } from "@statebridge/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import {
  codeOf,
  REDIS_AVAILABLE,
  REDIS_MISSING,
  type RedisServer,
  startRedisServer,
  startWatcher,
  until,
} from "./support-redis.js";
import { wire } from "./support-values.js";

// Two bridge-servers on one Redis serve the same sessions: what is written through one is
// seen, in order and once, by watchers of the other, and their checks hold across both.

describe.skipIf(!REDIS_AVAILABLE)(
  `two bridge-servers on one Redis (${REDIS_MISSING})`,
  { timeout: 30_000 },
  () => {
    let redis: RedisServer;
    let a: TestServer;
    let b: TestServer;
    const cleanups: (() => Promise<void> | void)[] = [];

    beforeAll(async () => {
      redis = await startRedisServer();
      a = await startTestServer({ storeUrl: `${redis.url}/0`, sessionTtlSeconds: 2 });
      b = await startTestServer({ storeUrl: `${redis.url}/0`, sessionTtlSeconds: 2 });
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    async function sessionWith(sessionId: string, names: readonly string[]) {
      await b.client().initializeSession({ sessionId, ttlSeconds: 60 });
      for (const name of names) {
        await b
          .client()
          .registerVariable({ sessionId, name, type: "integer", initialValue: wire.integer(0) });
      }
    }

    it("a watcher on A sees the sets, atomic batches and deletes made through B in order, each revision once, a batch as one", async () => {
      const sessionId = "across";
      await sessionWith(sessionId, ["a", "b", "c"]);
      const controller = new AbortController();
      cleanups.push(() => controller.abort());
      const stream = a
        .client()
        .watchVariables({ sessionId, identifiers: ["a", "b", "c"] }, { signal: controller.signal })
        [Symbol.asyncIterator]();
      const received: WatchVariablesResponse[] = [];
      const first = await stream.next();
      expect(first.value?.kind.case).toBe("created");
      const reading = (async () => {
        for (;;) {
          const result = await stream.next();
          if (result.done === true) return;
          if (result.value.kind.case === "events") received.push(result.value);
        }
      })().catch(() => {});

      const writer = b.client();
      const expected = new Map<number, string[]>();
      for (let round = 1; round <= 40; round++) {
        if (round % 5 === 0) {
          const { revision } = await writer.setVariables({
            sessionId,
            atomic: true,
            updates: ["a", "b", "c"].map((identifier) => ({ identifier, value: wire.integer(round) })),
          });
          expected.set(Number(revision), [`a=${round}`, `b=${round}`, `c=${round}`]);
        } else {
          const identifier = round % 2 === 0 ? "a" : "b";
          const { revision } = await writer.setVariable({
            sessionId,
            identifier,
            value: wire.integer(round),
          });
          expected.set(Number(revision), [`${identifier}=${round}`]);
        }
      }
      const { revision: deleted } = await writer.deleteVariable({ sessionId, identifier: "c" });
      expected.set(Number(deleted), ["c deleted"]);

      await until(() => received.length >= expected.size, 10_000, "the watcher on A got every revision");
      controller.abort();
      await reading;
      const seen = new Map<number, string[]>();
      for (const message of received) {
        if (message.kind.case !== "events") continue;
        const revision = Number(message.kind.value.revision);
        expect(seen.has(revision), `revision ${revision} arrived once`).toBe(false);
        seen.set(
          revision,
          message.kind.value.events.map((event) =>
            event.type === WatchEventType.DELETED
              ? `${event.name} deleted`
              : `${event.name}=${event.newValue?.kind.value}`,
          ),
        );
      }
      expect([...seen.keys()]).toEqual([...expected.keys()]);
      expect(seen).toEqual(expected);
    });

    it("compare-and-set through both servers has exactly one winner per version", async () => {
      const sessionId = "cas";
      await sessionWith(sessionId, ["x"]);
      const clients = [a.client(), b.client()];
      for (let round = 0; round < 25; round++) {
        const outcomes = await Promise.allSettled(
          clients.map((client, index) =>
            client.setVariable({
              sessionId,
              identifier: "x",
              value: wire.integer(round * 10 + index),
              expectedVersion: BigInt(round),
            }),
          ),
        );
        const winners = outcomes.filter((outcome) => outcome.status === "fulfilled");
        expect(winners, `round ${round}`).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") expect(codeOf(outcome.reason)).toBe("version_conflict");
        }
      }
      const { variable } = await a.client().getVariable({ sessionId, identifier: "x" });
      expect(variable?.version).toBe(25n);
    });

    it("heartbeats through A keep a session alive for B past its TTL; without them it expires for both", async () => {
      const sessionId = "heartbeats";
      await a.client().initializeSession({ sessionId, ttlSeconds: 1 });
      const started = Date.now();
      while (Date.now() - started < 2_500) {
        await a.client().heartbeat({ sessionId });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect((await b.client().getSession({ sessionId })).session?.sessionId).toBe(sessionId);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      for (const server of [a, b]) {
        const failure = await server
          .client()
          .getSession({ sessionId })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(codeOf(failure)).toBe("session_expired");
      }
    });

    it("a session deleted through B ends the watches on A and on B with session_expired", async () => {
      const sessionId = "ended";
      await sessionWith(sessionId, ["x"]);
      const onA = await startWatcher(a.server.url, sessionId, ["x"]);
      const onB = await startWatcher(b.server.url, sessionId, ["x"], "per-watch");
      cleanups.push(
        () => onA.close(),
        () => onB.close(),
      );
      await b.client().cleanupSession({ sessionId });
      const [endedA, endedB] = await Promise.all([onA.handle.done, onB.handle.done]);
      expect(endedA?.code).toBe("session_expired");
      expect(endedB?.code).toBe("session_expired");
    });

    it("a session whose keys expire in Redis (as when no server slid its TTL) ends the watches on A and on B with session_expired", async () => {
      const sessionId = "expiring";
      await sessionWith(sessionId, ["x"]);
      const onA = await startWatcher(a.server.url, sessionId, ["x"]);
      const onB = await startWatcher(b.server.url, sessionId, ["x"], "per-watch");
      cleanups.push(
        () => onA.close(),
        () => onB.close(),
      );
      const port = String(redis.port);
      const keys = execFileSync(
        "redis-cli",
        ["-p", port, "--scan", "--pattern", `{statebridge:${sessionId}}:*`],
        {
          encoding: "utf8",
        },
      )
        .split("\n")
        .filter((key) => key !== "");
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) execFileSync("redis-cli", ["-p", port, "PEXPIRE", key, "1"]);
      const [endedA, endedB] = await Promise.all([onA.handle.done, onB.handle.done]);
      expect(endedA?.code).toBe("session_expired");
      expect(endedB?.code).toBe("session_expired");
      const failure = await b
        .client()
        .getSession({ sessionId })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(codeOf(failure)).toBe("session_expired");
    });

    it("Ping on both servers says redis, distributed", async () => {
      for (const server of [a, b]) {
        const response = await server.client().ping({});
        expect(response).toMatchObject({ storeKind: "redis", distribution: true, persistence: false });
      }
    });

    it("a watch of a variable that does not exist fails the same on both servers", async () => {
      const sessionId = "missing";
      await sessionWith(sessionId, ["x"]);
      for (const server of [a, b]) {
        const failure = await (async () => {
          try {
            for await (const _ of server.client().watchVariables({ sessionId, identifiers: ["nope"] })) break;
          } catch (error) {
            return ConnectError.from(error);
          }
          return undefined;
        })();
        expect(failure?.code).toBe(Code.NotFound);
        expect(codeOf(failure)).toBe("not_found");
      }
    });
  },
);
