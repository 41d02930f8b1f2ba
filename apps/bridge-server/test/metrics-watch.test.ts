// Watch metrics: open streams, watchers, events, resyncs, what waits in the queues of a stalled
// consumer, and slow consumers cut off, on the direct path and through connect.
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import { moved, rpcLabels, scrape, series, waitFor } from "./metrics-support.js";
import { wire } from "./support-values.js";

const REQUESTS = "statebridge_rpc_requests_total";
const IN_FLIGHT = "statebridge_rpc_in_flight";

let sessionCounter = 0;
const nextSessionId = () => `metrics-watch-${++sessionCounter}`;

describe("watch metrics", () => {
  let server: BridgeServer;
  let sessionManager: Http2SessionManager;
  let client: Client<typeof BridgeService>;

  beforeAll(async () => {
    server = await createBridgeServer({ host: "127.0.0.1", port: 0, metricsPort: 0, historySize: 2 });
    sessionManager = new Http2SessionManager(server.url);
    client = createClient(BridgeService, createGrpcTransport({ baseUrl: server.url, sessionManager }));
  });
  afterAll(async () => {
    sessionManager.abort();
    await server.close();
  });

  it("an open watch shows as a stream, a watcher and a call in flight; its events are counted; its end is counted once", async () => {
    const metricsUrl = server.metricsUrl as string;
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "a", type: "float", initialValue: wire.float(0) });
    const before = await scrape(metricsUrl);
    const controller = new AbortController();
    const messages = client
      .watchVariables({ sessionId, identifiers: ["a"] }, { signal: controller.signal })
      [Symbol.asyncIterator]();
    expect((await messages.next()).value?.kind.case).toBe("created");
    for (let index = 1; index <= 3; index++) {
      await client.setVariable({ sessionId, identifier: "a", value: wire.float(index) });
    }
    let events = 0;
    while (events < 3) {
      const message = (await messages.next()).value;
      if (message?.kind.case === "events") events += message.kind.value.events.length;
    }
    const during = await scrape(metricsUrl);
    const watchLabels = { service: "statebridge.v1.BridgeService", method: "WatchVariables", path: "direct" };
    expect(during.get(series(IN_FLIGHT, watchLabels))).toBe(1);
    expect(during.get("statebridge_watch_streams")).toBe(1);
    expect(during.get("statebridge_watchers")).toBe(1);
    expect(moved(before, during, "statebridge_watch_events_total")).toBe(3);
    expect(during.get("statebridge_watch_queued_messages")).toBe(0);

    controller.abort();
    await messages.next().catch(() => undefined);
    const after = await waitFor(metricsUrl, (scraped) => scraped.get(series(IN_FLIGHT, watchLabels)) === 0);
    expect(after.get("statebridge_watch_streams")).toBe(0);
    expect(moved(before, after, series(REQUESTS, rpcLabels("WatchVariables", "CANCELLED", "direct")))).toBe(
      1,
    );
  });

  it("a watch resuming from before the kept history counts one resync", async () => {
    const metricsUrl = server.metricsUrl as string;
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "a", type: "float", initialValue: wire.float(0) });
    for (let index = 1; index <= 5; index++) {
      await client.setVariable({ sessionId, identifier: "a", value: wire.float(index) });
    }
    const before = await scrape(metricsUrl);
    const controller = new AbortController();
    const messages = client
      .watchVariables({ sessionId, identifiers: ["a"], fromRevision: 1n }, { signal: controller.signal })
      [Symbol.asyncIterator]();
    for (;;) {
      const message = (await messages.next()).value;
      if (message?.kind.case === "events") break;
    }
    const after = await scrape(metricsUrl);
    controller.abort();
    await messages.next().catch(() => undefined);
    expect(moved(before, after, "statebridge_watch_resyncs_total")).toBe(1);
  });
});

describe("watch queues and slow consumers", () => {
  const bigValue = "v".repeat(100_000);

  /**
   * Opens a watch of `a` whose consumer reads its first message and then nothing, on a
   * connection of its own (a stalled stream holds its connection's flow-control window).
   */
  async function stalledWatch(
    server: BridgeServer,
    sessionId: string,
    signal: AbortSignal,
    method: "WatchVariables" | "WatchStream" = "WatchVariables",
  ) {
    const sessionManager = new Http2SessionManager(server.url);
    signal.addEventListener("abort", () => sessionManager.abort(), { once: true });
    const client = createClient(BridgeService, createGrpcTransport({ baseUrl: server.url, sessionManager }));
    const gone = new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    async function* requests() {
      yield { kind: { case: "create" as const, value: { watchId: "w", sessionId, identifiers: ["a"] } } };
      await gone;
    }
    const messages = (
      method === "WatchVariables"
        ? client.watchVariables({ sessionId, identifiers: ["a"] }, { signal })
        : client.watchStream(requests(), { signal })
    )[Symbol.asyncIterator]();
    expect((await messages.next()).value?.kind.case).toBe("created");
    return messages;
  }

  for (const grpcFastPath of [true, false]) {
    const label = grpcFastPath ? "direct" : "connect";
    it.each(["WatchVariables", "WatchStream"] as const)(
      `${label} %s: what waits for a stalled consumer shows as queued messages and bytes; once the consumer goes away its stream, queue and watcher are released (regression: connect's path held them, and kept the session alive, until shutdown)`,
      async (method) => {
        const server = await createBridgeServer({
          host: "127.0.0.1",
          port: 0,
          metricsPort: 0,
          grpcFastPath,
          shutdownGraceMs: 200,
        });
        const sessionManager = new Http2SessionManager(server.url);
        const controller = new AbortController();
        try {
          const client = createClient(
            BridgeService,
            createGrpcTransport({ baseUrl: server.url, sessionManager }),
          );
          const sessionId = nextSessionId();
          await client.initializeSession({ sessionId });
          await client.registerVariable({
            sessionId,
            name: "a",
            type: "string",
            initialValue: wire.string(""),
          });
          const messages = await stalledWatch(server, sessionId, controller.signal, method);
          // About 4 MB of events (each carries the old and the new value): within the 8 MiB queue.
          for (let index = 0; index < 20; index++) {
            await client.setVariable({
              sessionId,
              identifier: "a",
              value: wire.string(`${index}${bigValue}`),
            });
          }
          const stalled = await waitFor(
            server.metricsUrl as string,
            (scraped) => (scraped.get("statebridge_watch_queued_messages") ?? 0) > 0,
          );
          expect(stalled.get("statebridge_watch_queued_messages")).toBeGreaterThan(0);
          expect(stalled.get("statebridge_watch_queued_bytes")).toBeGreaterThan(100_000);
          controller.abort();
          await messages.next().catch(() => undefined);
          const after = await waitFor(
            server.metricsUrl as string,
            (scraped) => scraped.get("statebridge_watch_streams") === 0,
          );
          expect(after.get("statebridge_watch_streams")).toBe(0);
          expect(after.get("statebridge_watchers")).toBe(0);
          expect(server.store.stats().watchers).toBe(0);
          expect(after.get("statebridge_watch_queued_messages")).toBe(0);
          expect(after.get("statebridge_watch_queued_bytes")).toBe(0);
          expect(after.get("statebridge_watch_slow_consumers_total")).toBe(0);
        } finally {
          sessionManager.abort();
          await server.close();
        }
      },
    );

    it(`${label}: a consumer cut off for being too slow is counted once`, async () => {
      const server = await createBridgeServer({
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        grpcFastPath,
        watchQueueLimit: 4,
        shutdownGraceMs: 200,
      });
      const sessionManager = new Http2SessionManager(server.url);
      const controller = new AbortController();
      try {
        const client = createClient(
          BridgeService,
          createGrpcTransport({ baseUrl: server.url, sessionManager }),
        );
        const sessionId = nextSessionId();
        await client.initializeSession({ sessionId });
        await client.registerVariable({
          sessionId,
          name: "a",
          type: "string",
          initialValue: wire.string(""),
        });
        await stalledWatch(server, sessionId, controller.signal);
        const before = await scrape(server.metricsUrl as string);
        for (let index = 0; index < 60; index++) {
          await client.setVariable({ sessionId, identifier: "a", value: wire.string(`${index}${bigValue}`) });
        }
        const after = await waitFor(
          server.metricsUrl as string,
          (scraped) => (scraped.get("statebridge_watch_slow_consumers_total") ?? 0) > 0,
        );
        expect(moved(before, after, "statebridge_watch_slow_consumers_total")).toBe(1);
      } finally {
        controller.abort();
        sessionManager.abort();
        await server.close();
      }
    });
  }
});
