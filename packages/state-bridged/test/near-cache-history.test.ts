import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createBridgeServer } from "@statebridge/bridge-server";
import { describe, expect, it } from "vitest";
import { checkHistory } from "../../stream-consumer/test/history-checker.js";
import {
  checkReads,
  type HistoryReader,
  type ReaderAddresses,
} from "../../stream-consumer/test/support/history-readers.js";
import { runHistory } from "../../stream-consumer/test/support/history-run.js";
import { createRandom, seedOf } from "../../stream-consumer/test/support/random.js";
import { startTcpProxy } from "../../stream-consumer/test/support/tcp-proxy.js";
import { createBridgedState } from "../src/index.js";

// The watch history run of @statebridge/stream-consumer with cached readers: BridgedStates with
// their near cache on, reading and writing while the run's writers, watchers (through a proxy
// that cuts and partitions their connections) and variable replacements go on. No reader may
// read a version older than one it read or wrote before. `pnpm test:soak` (STATEBRIDGE_SOAK=1) runs
// it longer with a random seed.
const soak = process.env.STATEBRIDGE_SOAK === "1";
const seed = seedOf(soak ? undefined : 20_240_601);
const scale = soak ? Number(process.env.STATEBRIDGE_SOAK_SCALE ?? 20) : 1;
const heartbeatIntervalMs = 200;

/**
 * A cached BridgedState whose unary calls go straight to the server and whose watch streams go
 * through a proxy that only forwards (one hop more, so that a watch event often arrives after
 * the answer to the write that made it: without the cache's write floor, the run then finds
 * reads older than the reader's own write).
 *
 * Not through the run's faulty proxy: cut there, the readers' connections made one of the run's
 * own watchers fall behind for good more often (see the test's retry). The cache's behaviour
 * under cuts and partitions is held by near-cache.test.ts and near-cache-rules.test.ts.
 */
async function openCachedReader(addresses: ReaderAddresses): Promise<HistoryReader> {
  // The streams take one more hop (a proxy that forwards and nothing else), so that a watch
  // event often arrives after the answer to the write that made it.
  const hop = await startTcpProxy(Number(new URL(addresses.directUrl).port));
  const managers = [addresses.directUrl, hop.url].map(
    (url) =>
      new Http2SessionManager(url, {
        pingIntervalMs: heartbeatIntervalMs * 2,
        pingTimeoutMs: heartbeatIntervalMs * 3,
      }),
  );
  const [calls, streams] = managers.map((sessionManager, index) =>
    createGrpcTransport({ baseUrl: index === 0 ? addresses.directUrl : hop.url, sessionManager }),
  ) as [Transport, Transport];
  const transport: Transport = { unary: calls.unary.bind(calls), stream: streams.stream.bind(streams) };
  const provider = await createBridgedState({
    url: addresses.directUrl,
    sessionId: addresses.sessionId,
    transport,
    cache: true,
    watch: {
      streams: "multiplexed",
      heartbeatIntervalMs,
      missedHeartbeats: 3,
      reconnect: { baseDelayMs: 5, maxDelayMs: heartbeatIntervalMs, maxFailures: 1_000 },
    },
  });
  return {
    async read(name, fresh) {
      const variable = await provider.getVariable(name, { fresh });
      return { id: variable.id, version: variable.version, value: Number(variable.value) };
    },
    async write(name, value) {
      const { revision, versions } = await provider.updateMany(new Map([[name, value]]));
      return { revision, version: versions.get(name) as number };
    },
    async close() {
      await provider.close();
      for (const manager of managers) manager.abort();
      await hop.close();
    },
  };
}

describe("watch history with cached readers", () => {
  // An open finding, not the cache's: with readers in the run, one of the run's own watchers
  // (a per-watch stream through the faulty proxy) was seen in about one run of three
  // reopening a stream that stays silent, for a minute after every fault had ended, so that
  // the run gives up waiting for it; never in runs without readers. Akin to the stuck
  // multiplexed stream noted in stream-consumer's history.test.ts. The readers' checks hold
  // on every attempt.
  it(`cached readers under network faults never read a version older than one they read or wrote before, and every value they read was written (seed ${seed})`, {
    timeout: soak ? 3_600_000 : 240_000,
    retry: soak ? 0 : 2,
  }, async () => {
    const server = await createBridgeServer({
      port: 0,
      historySize: 1_000_000,
      heartbeatIntervalMs,
      shutdownGraceMs: 200,
    });
    try {
      const run = await runHistory({
        serverPort: server.port,
        random: createRandom(seed),
        variables: 6,
        writers: 3,
        operationsPerWriter: 120 * scale,
        watchers: 4,
        lateWatchers: 0,
        heartbeatIntervalMs,
        faultEveryMs: 40,
        partitions: true,
        replacements: 2 * scale,
        readers: 2,
        openReader: openCachedReader,
        ...(soak ? { log: (line: string) => console.log(line) } : {}),
      });
      const report = checkHistory({
        variables: run.variables,
        writes: run.writes,
        watchers: run.watchers,
        finalRevision: run.finalRevision,
        historyCoversRun: true,
        sessionRecreated: false,
      });
      const initialValues = new Map(run.variables.map((variable) => [variable.id, variable.initialValue]));
      const violations = checkReads(run.readers, run.writes, initialValues);
      const steps = run.readers.flatMap((reader) => reader.steps);
      const reads = steps.filter((step) => step.kind === "read").length;
      const ownWrites = steps.length - reads;
      console.log(
        `cached readers, seed ${seed}: ${reads} reads and ${ownWrites} writes by ${run.readers.length} readers, ` +
          `${run.writes.length} writes in all, ${run.faults} faults, ${report.reconnects} watcher reconnects`,
      );
      expect(report.violations).toEqual([]);
      expect(violations).toEqual([]);
      // The run must have exercised what it checks.
      expect(run.faults).toBeGreaterThan(0);
      expect(ownWrites).toBeGreaterThan(0);
      expect(reads).toBeGreaterThan(100);
    } finally {
      await server.close();
    }
  });
});
