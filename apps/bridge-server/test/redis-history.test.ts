import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHistory } from "../../../packages/stream-consumer/test/history-checker.js";
import { runHistory } from "../../../packages/stream-consumer/test/support/history-run.js";
import { createRandom, seedOf } from "../../../packages/stream-consumer/test/support/random.js";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import { REDIS_AVAILABLE, REDIS_MISSING, type RedisServer, startRedisServer } from "./support-redis.js";

// The watch-history checker across two bridge-servers on one Redis: the writers write through
// B, the watchers (per-watch and multiplexed, through connect and on the direct path) watch
// through A behind a proxy that cuts connections and partitions the network at random.

const seed = seedOf(20_261_202);
// 100 ms, not the in-memory run's 50: the run's clients time their keepalive PINGs out after
// three intervals, and on a busy machine 150 ms cut the writers' connections off. (At 200 ms,
// with a fault every 40 ms, watchers kept reconnecting without catching up within 60 s.)
const heartbeatIntervalMs = 100;

describe.skipIf(!REDIS_AVAILABLE)(`watch history across two servers on one Redis (${REDIS_MISSING})`, () => {
  let redis: RedisServer;
  const servers: BridgeServer[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (let index = 0; index < 2; index++) {
      servers.push(
        await createBridgeServer({
          port: 0,
          storeUrl: `${redis.url}/0`,
          historySize: 1_000_000,
          heartbeatIntervalMs,
          shutdownGraceMs: 200,
        }),
      );
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await redis?.stop();
  });

  it(`watchers on A get every write made through B, Ordered, Unique, Reliable, Atomic and Resumable, across deletes and re-registers and connection cuts (seed ${seed})`, async () => {
    const [a, b] = servers as [BridgeServer, BridgeServer];
    const run = await runHistory({
      serverPort: a.port,
      writerServerPort: b.port,
      random: createRandom(seed),
      variables: 6,
      writers: 3,
      operationsPerWriter: 120,
      watchers: 8,
      lateWatchers: 3,
      heartbeatIntervalMs,
      faultEveryMs: 40,
      partitions: true,
      replacements: 4,
    });
    const report = checkHistory({
      variables: run.variables,
      writes: run.writes,
      watchers: run.watchers,
      finalRevision: run.finalRevision,
      historyCoversRun: true,
      sessionRecreated: run.sessionRecreated,
    });
    console.log(
      `two servers on Redis, seed ${seed}: ${run.writes.length} writes, ${report.events} events to ` +
        `${run.watchers.length} watchers, ${run.faults} faults, ${report.reconnects} reconnects`,
    );
    expect(report.violations).toEqual([]);
    expect(run.faults).toBeGreaterThan(0);
    expect(report.reconnects).toBeGreaterThan(0);
    expect(report.events).toBeGreaterThan(run.writes.length);
  }, 180_000);
});
