import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createStreamConsumer, type StreamConsumer, type StreamWatchHandle } from "../src/index.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

// Issue 10, item 5: a watcher whose callback blocks while a writer goes on must not make the
// server hold its backlog (in the watch queue or in HTTP/2 buffers): the server cuts the stream
// off with resource_exhausted once the queue passes --watch-queue-bytes, and the client resumes
// (or resyncs, the history being short) and ends at the latest value, in order, exactly once.
// Before the server respected HTTP/2 backpressure, a per-watch stream was never cut off and the
// server's memory grew with the backlog (77 → 183 MiB in 60 s in the report).

const VALUE_BYTES = 16 * 1024;
const WRITES = 3_000;
const WATCHERS = 8;
/** What unbounded queues would hold: every write's value, for every watcher. */
const BACKLOG_BYTES = WRITES * VALUE_BYTES * WATCHERS;

const MODES = [
  { label: "a multiplexed WatchStream through connect", streams: "multiplexed", direct: false },
  { label: "a multiplexed WatchStream on the direct path", streams: "multiplexed", direct: true },
  { label: "one WatchVariables stream per watch through connect", streams: "per-watch", direct: false },
  { label: "one WatchVariables stream per watch on the direct path", streams: "per-watch", direct: true },
] as const;

let server: ServerProcess | undefined;
const sessionManagers: Http2SessionManager[] = [];
const consumers: StreamConsumer[] = [];

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((consumer) => consumer.close()));
  for (const sessionManager of sessionManagers.splice(0)) sessionManager.abort();
  await server?.stop();
  server = undefined;
});

function connect(url: string): { client: Client<typeof BridgeService>; sessionManager: Http2SessionManager } {
  const sessionManager = new Http2SessionManager(url, { pingIntervalMs: 1_000, pingTimeoutMs: 2_000 });
  sessionManagers.push(sessionManager);
  return {
    client: createClient(BridgeService, createGrpcTransport({ baseUrl: url, sessionManager })),
    sessionManager,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("slow consumers are cut off and catch up on every stream mode", () => {
  it.each(MODES)(
    "$label: a watcher blocking while a writer goes on keeps the server bounded, is cut off, and ends at the latest value in order, exactly once",
    async ({ streams, direct }) => {
      server = await startServerProcess([
        "--watch-queue-bytes",
        String(256 * 1024),
        "--watch-queue-limit",
        "1000",
        "--history-size",
        "20",
      ]);
      const writer = connect(server.url).client;
      const sessionId = `slow-${streams}-${direct}`;
      await writer.initializeSession({ sessionId });
      await writer.registerVariable({
        sessionId,
        name: "big",
        type: "string",
        initialValue: { kind: { case: "stringValue", value: "start" } },
      });

      const watcherConnection = connect(server.url);
      const consumer = createStreamConsumer({
        sessionId,
        client: watcherConnection.client,
        ...(direct ? { connection: { sessionManager: watcherConnection.sessionManager } } : {}),
        streams,
        reconnect: { baseDelayMs: 10, maxDelayMs: 200, maxFailures: 1_000 },
        // A multiplexed stream carries each write once for all eight watchers (share_events):
        // the client keeps up with the wire, the server's queue stays short, and the backlog
        // waits in each watcher's queue on the client, whose limit then cuts the watcher off.
        // Below the 3,000 writes, so that it does; a per-watch stream is paused long before.
        maxQueuedMessages: 1_000,
      });
      consumers.push(consumer);

      let writing = true;
      const watches: { events: WatchEvent[]; handle: StreamWatchHandle }[] = [];
      for (let index = 0; index < WATCHERS; index++) {
        const events: WatchEvent[] = [];
        const handle = await consumer.watch(["big"], async (event) => {
          events.push(event);
          // Blocks while the writer goes on: the backlog piles up behind this watcher.
          if (writing) await sleep(1_000);
        });
        watches.push({ events, handle });
      }

      const baseline = server.residentBytes();
      let peak = baseline;
      const padding = "x".repeat(VALUE_BYTES);
      let last = "";
      for (let write = 1; write <= WRITES; write++) {
        last = `${write}:${padding}`;
        await writer.setVariable({
          sessionId,
          identifier: "big",
          value: { kind: { case: "stringValue", value: last } },
        });
        if (write % 100 === 0) peak = Math.max(peak, server.residentBytes());
      }
      writing = false;
      const finalRevision = Number((await writer.getSession({ sessionId })).session?.revision);

      const deadline = Date.now() + 60_000;
      while (watches.some(({ handle }) => handle.info().revision < finalRevision) && Date.now() < deadline) {
        peak = Math.max(peak, server.residentBytes());
        await sleep(50);
      }

      // Bounded: far below the backlog that unbounded queues would have held.
      expect(peak - baseline).toBeLessThan(BACKLOG_BYTES / 4);
      for (const { events, handle } of watches) {
        const info = handle.info();
        expect(info.state).not.toBe("closed");
        // Cut off at least once, and resumed on a new stream.
        expect(info.reconnects).toBeGreaterThan(0);
        const revisions = events.map((event) => event.revision);
        // Ordered and exactly once: revisions strictly increase.
        for (let index = 1; index < revisions.length; index++) {
          expect(revisions[index]).toBeGreaterThan(revisions[index - 1] as number);
        }
        const lastEvent = events[events.length - 1];
        expect(lastEvent?.revision).toBe(finalRevision);
        expect(lastEvent?.newValue).toBe(last);
        // A short history: the backlog was skipped with a resync, not replayed.
        expect(events.length).toBeLessThan(WRITES);
        expect(events.some((event) => event.type === "resync")).toBe(true);
      }
    },
    120_000,
  );
});
