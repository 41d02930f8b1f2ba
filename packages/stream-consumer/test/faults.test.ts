import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { isStateError, type StateError, type WatchEvent } from "@statebridge/state-provider";
import { describe, expect, it, vi } from "vitest";
import type { StreamWatchHandle } from "../src/index.js";
import { checkHistory, type WatcherRecord, type WriteRecord } from "./history-checker.js";
import { startBridge } from "./support/bridge.js";
import {
  clientOf,
  consumerOf,
  integer,
  proxyTo,
  releaseAfterTest,
  serverProcess,
} from "./support/fault-fixtures.js";
import { runHistory } from "./support/history-run.js";
import { createRandom } from "./support/random.js";

const MODES = ["per-watch", "multiplexed"] as const;
const MIB = 1024 * 1024;

/**
 * Memory still reachable after full collections: the JS heap plus what JS objects hold outside it
 * (buffers). RSS is no measure of a leak in-process: it counts garbage the collector has not yet
 * returned and pages the allocator keeps, and varies by tens of MiB with the machine's load.
 */
const retainedBytes = (() => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return async (): Promise<number> => {
    for (let pass = 0; pass < 3; pass++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.external;
  };
})();

describe("watching through network faults (bridge-server as its own process)", () => {
  it("random cuts and partitions: every watcher's history matches the writers' log (seed 7)", async () => {
    const server = await serverProcess(["--heartbeat-interval-ms", "50", "--history-size", "1000000"]);
    const run = await runHistory({
      serverPort: server.port,
      random: createRandom(7),
      variables: 5,
      writers: 3,
      operationsPerWriter: 100,
      watchers: 6,
      lateWatchers: 2,
      heartbeatIntervalMs: 50,
      faultEveryMs: 50,
      partitions: true,
    });
    const report = checkHistory({ ...run, historyCoversRun: true });
    expect(report.violations).toEqual([]);
    expect(report.reconnects).toBeGreaterThan(0);
  }, 120_000);

  it.each(MODES)(
    "a partition longer than the silence limit (%s): the watcher notices, resumes after it heals, and loses nothing",
    async (mode) => {
      const heartbeatIntervalMs = 50;
      const server = await serverProcess(["--heartbeat-interval-ms", String(heartbeatIntervalMs)]);
      const proxy = await proxyTo(server.port);
      const writer = clientOf(server.url);
      const sessionId = `partition-${mode}`;
      await writer.initializeSession({ sessionId });
      const registered = await writer.registerVariable({
        sessionId,
        name: "x",
        type: "integer",
        initialValue: integer(0),
      });
      const consumer = consumerOf({
        client: clientOf(proxy.url),
        sessionId,
        streams: mode,
        heartbeatIntervalMs,
        reconnect: { baseDelayMs: 10, maxDelayMs: 100, maxFailures: 1_000 },
      });
      const events: WatchEvent[] = [];
      const handle = await consumer.watch(["x"], (event) => void events.push(event));
      const start = handle.info().revision;
      const writes: WriteRecord[] = [];
      const write = async (value: number) => {
        const response = await writer.setVariable({ sessionId, identifier: "x", value: integer(value) });
        writes.push({
          writer: "writer",
          revision: Number(response.revision),
          atomic: false,
          changes: [{ name: "x", version: Number(response.version), value }],
        });
      };
      for (let value = 1; value <= 30; value++) await write(value);
      await vi.waitFor(() => expect(events).toHaveLength(30));
      proxy.blackhole(true);
      for (let value = 31; value <= 60; value++) await write(value);
      // Long enough for missed heartbeats and for reconnects that go nowhere.
      await new Promise((resolve) => setTimeout(resolve, heartbeatIntervalMs * 12));
      expect(events).toHaveLength(30);
      proxy.blackhole(false);
      for (let value = 61; value <= 90; value++) await write(value);
      await vi.waitFor(() => expect(events).toHaveLength(90), { timeout: 15_000 });
      const watcher: WatcherRecord = {
        label: mode,
        names: ["x"],
        start: { kind: "live", revision: start },
        events,
        reconnects: handle.info().reconnects,
      };
      const report = checkHistory({
        variables: [
          {
            name: "x",
            id: registered.variable?.id ?? "",
            initialValue: 0,
            registeredAt: Number(registered.revision),
          },
        ],
        writes,
        watchers: [watcher],
        finalRevision: writes.at(-1)?.revision ?? 0,
        historyCoversRun: true,
      });
      expect(report.violations).toEqual([]);
      expect(handle.info().reconnects).toBeGreaterThanOrEqual(1);
      expect(handle.info().state).toBe("active");
    },
    60_000,
  );

  it.each(MODES)(
    "kill -9 and a restart on the same port (%s): the watcher ends with session_expired, not a hang or an empty stream",
    async (mode) => {
      const first = await serverProcess(["--heartbeat-interval-ms", "100"]);
      const writer = clientOf(first.url);
      const sessionId = `killed-${mode}`;
      await writer.initializeSession({ sessionId });
      await writer.registerVariable({ sessionId, name: "x", type: "integer", initialValue: integer(0) });
      const consumer = consumerOf({
        client: clientOf(first.url),
        sessionId,
        streams: mode,
        heartbeatIntervalMs: 100,
        reconnect: { baseDelayMs: 20, maxDelayMs: 200, maxFailures: 100 },
      });
      const errors: StateError[] = [];
      const events: WatchEvent[] = [];
      const handle = await consumer.watch(["x"], (event) => void events.push(event), {
        onError: (error) => errors.push(error),
      });
      await writer.setVariable({ sessionId, identifier: "x", value: integer(1) });
      await vi.waitFor(() => expect(events).toHaveLength(1));
      await first.stop("SIGKILL");
      await vi.waitFor(() => expect(handle.info().state).toBe("reconnecting"));
      await serverProcess(["--heartbeat-interval-ms", "100"], first.port);
      const ended = await handle.done;
      expect(isStateError(ended, "session_expired"), String(ended)).toBe(true);
      expect(errors).toEqual([ended]);
      expect(events).toHaveLength(1);
      expect(consumer.watchers()).toEqual([]);
    },
    60_000,
  );

  it.each(MODES)(
    "a watcher too slow for its stream (%s) is cut off and resyncs; the server's memory stays flat",
    async (mode) => {
      const server = await serverProcess(["--watch-queue-limit", "64", "--history-size", "50"]);
      const writer = clientOf(server.url);
      const sessionId = `slow-${mode}`;
      await writer.initializeSession({ sessionId });
      const names = Array.from({ length: 10 }, (_, index) => `text${index}`);
      const text = (round: number) => ({
        kind: { case: "stringValue" as const, value: `${round};${"x".repeat(16 * 1024)}` },
      });
      for (const name of names)
        await writer.registerVariable({ sessionId, name, type: "string", initialValue: text(0) });
      const consumer = consumerOf({
        client: clientOf(server.url),
        sessionId,
        streams: mode,
        maxQueuedMessages: 64,
        reconnect: { baseDelayMs: 10, maxDelayMs: 100, maxFailures: 100 },
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const events: WatchEvent[] = [];
      const handle = await consumer.watch(names, async (event) => {
        events.push(event);
        if (events.length === 1) await released;
      });
      const rounds = 1_500;
      const batch = async (round: number) => {
        await writer.setVariables({
          sessionId,
          atomic: true,
          updates: names.map((identifier) => ({ identifier, value: text(round) })),
        });
      };
      await batch(1);
      await vi.waitFor(() => expect(events).toHaveLength(1));
      // Each batch is 10 × 16 KiB. The first third brings the server to its steady state (the
      // queue full, the history full, the heap grown to what the collector lets it); over the
      // other two thirds, about 160 MiB pass while the watcher reads nothing.
      let steady = 0;
      let peak = 0;
      for (let round = 2; round <= rounds; round++) {
        await batch(round);
        if (round === 500) steady = server.residentBytes();
        if (round > 500 && round % 50 === 0) peak = Math.max(peak, server.residentBytes());
      }
      release();
      await vi.waitFor(
        () => {
          const last = new Map(events.map((event) => [event.name, String(event.newValue).split(";")[0]]));
          expect([...last.values()]).toEqual(names.map(() => String(rounds)));
        },
        { timeout: 30_000 },
      );
      expect(handle.info().reconnects).toBeGreaterThanOrEqual(1);
      expect(events.some((event) => event.type === "resync")).toBe(true);
      expect(
        (peak - steady) / MIB,
        "server RSS growth in MiB while ~160 MiB of changes passed (an unbounded queue: ~180)",
      ).toBeLessThan(96);
    },
    120_000,
  );
});

describe("watch open/close cycles (in-process server, to read its observer count)", () => {
  it.each(MODES)(
    "10,000 cycles (%s): the server's observer count returns to zero and memory stays flat",
    async (mode) => {
      const bridge = await startBridge();
      releaseAfterTest(() => bridge.close());
      await bridge.server.store.initializeSession("cycles");
      await bridge.server.store.register("cycles", "x", "integer", 0);
      const consumer = consumerOf({ client: bridge.client(), sessionId: "cycles", streams: mode });
      const cycles = async (count: number) => {
        const lanes = Array.from({ length: 16 }, async (_, lane) => {
          for (let index = lane; index < count; index += 16) {
            let handle: StreamWatchHandle;
            try {
              handle = await consumer.watch(["x"], () => {});
            } catch (error) {
              // One stream per watch: every close resets a stream, and Node's HTTP/2 server
              // drops a connection that resets more than nghttp2's flood limit (a burst of
              // 1,000, then 33 a second). The watches on it fail; the next call reconnects.
              if (mode !== "per-watch" || !isStateError(error, "unavailable")) throw error;
              continue;
            }
            await handle.close();
          }
        });
        await Promise.all(lanes);
      };
      await cycles(1_000);
      const warm = await retainedBytes();
      await cycles(9_000);
      await vi.waitFor(() => expect(bridge.server.store.stats().watchers).toBe(0), { timeout: 5_000 });
      expect(consumer.watchers()).toEqual([]);
      // A leak of one watch's server and client state (observer, stream, handle: a few KiB) per
      // cycle would retain tens of MiB over 9,000 cycles.
      const growth = ((await retainedBytes()) - warm) / MIB;
      expect(growth, "memory retained after 9,000 more cycles, MiB").toBeLessThan(8);
      // A multiplexed stream outlives its last watch briefly, for the next burst: no resets.
      if (mode === "multiplexed") expect(bridge.server.openStreams()).toBeLessThanOrEqual(1);
      await consumer.close();
      await vi.waitFor(() => expect(bridge.server.openStreams()).toBe(0), { timeout: 5_000 });
    },
    180_000,
  );
});
