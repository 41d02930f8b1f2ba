import { describe, expect, it } from "vitest";
import { checkHistory } from "./history-checker.js";
import { startBridge } from "./support/bridge.js";
import { runHistory } from "./support/history-run.js";
import { createRandom, seedOf } from "./support/random.js";

// `pnpm test:soak` sets STATEBRIDGE_SOAK=1: a longer run with a random seed (or
// STATEBRIDGE_SEED to replay one). The test suite runs a short one with a fixed seed.
const soak = process.env.STATEBRIDGE_SOAK === "1";
const seed = seedOf(soak ? undefined : 20_240_601);
const scale = soak ? Number(process.env.STATEBRIDGE_SOAK_SCALE ?? 20) : 1;

describe("watch history under network faults", () => {
  it(
    `every watcher's history is Ordered, Unique, Reliable, Atomic and Resumable (seed ${seed})`,
    async () => {
      console.log(`watch history run: STATEBRIDGE_SEED=${seed}${soak ? ` (soak, scale ${scale})` : ""}`);
      const heartbeatIntervalMs = 50;
      const bridge = await startBridge({ historySize: 1_000_000, heartbeatIntervalMs });
      try {
        const run = await runHistory({
          serverPort: bridge.server.port,
          random: createRandom(seed),
          variables: 6,
          writers: 3,
          operationsPerWriter: 120 * scale,
          watchers: 8,
          lateWatchers: 3 * Math.min(scale, 10),
          heartbeatIntervalMs,
          faultEveryMs: 40,
          partitions: true,
          ...(soak ? { log: (line: string) => console.log(line) } : {}),
        });
        const report = checkHistory({
          variables: run.variables,
          writes: run.writes,
          watchers: run.watchers,
          finalRevision: run.finalRevision,
          historyCoversRun: true,
        });
        console.log(
          `seed ${seed}: ${run.writes.length} writes, ${report.events} events to ${run.watchers.length} watchers, ` +
            `${run.faults} faults, ${report.reconnects} reconnects, ${run.connectionsAccepted} connections`,
        );
        expect(report.violations).toEqual([]);
        // The run must have exercised what it checks.
        expect(run.faults).toBeGreaterThan(0);
        expect(report.reconnects).toBeGreaterThan(0);
        expect(report.events).toBeGreaterThan(run.writes.length);
        expect(bridge.server.store.stats().watchers).toBe(0);
      } finally {
        await bridge.close();
      }
    },
    soak ? 3_600_000 : 120_000,
  );
});
