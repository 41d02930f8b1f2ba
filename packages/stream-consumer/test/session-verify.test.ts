import type { ClientHttp2Session } from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createBridgeServer } from "@statebridge/bridge-server";
import { BridgeService } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createStreamConsumer, settleVerifyOnClose, type WatchStatus } from "../src/index.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

// Regression: a connection that closed cleanly while connect-node checked it (a PING before a
// request after pingIntervalMs of quiet) left that check pending for good, and every later
// request of the manager waiting on it: the history test's multiplexed watchers reconnected
// five times a second for a minute after the faults ended, each attempt silent.

const PING_INTERVAL_MS = 50;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp() {
  const server = await createBridgeServer({ port: 0, heartbeatIntervalMs: 50, shutdownGraceMs: 100 });
  cleanups.push(() => server.close());
  const proxy = await startTcpProxy(server.port);
  cleanups.push(() => proxy.close());
  const sessionManager = new Http2SessionManager(proxy.url, {
    pingIntervalMs: PING_INTERVAL_MS,
    // Long: the check must end because the connection closed, not because its PING timed out.
    pingTimeoutMs: 60_000,
  });
  cleanups.push(() => sessionManager.abort());
  const client = createClient(BridgeService, createGrpcTransport({ baseUrl: proxy.url, sessionManager }));
  const sessionId = `verify-${Date.now()}`;
  await client.initializeSession({ sessionId });
  await client.registerVariable({
    sessionId,
    name: "v",
    type: "integer",
    initialValue: { kind: { case: "integerValue", value: 0n } },
  });
  return { server, proxy, sessionManager, client, sessionId };
}

/** The manager's current connection, taken from a stream opened (and cancelled) on it. */
async function connectionOf(sessionManager: Http2SessionManager): Promise<ClientHttp2Session> {
  const stream = await sessionManager.request("POST", "/statebridge.v1.BridgeService/GetSession", {}, {});
  stream.on("error", () => {});
  stream.close();
  return stream.session as ClientHttp2Session;
}

/**
 * Holds the network until the manager checks its quiet connection with a PING, closes that
 * connection cleanly while the PING waits, then heals the network.
 */
async function closeWhileVerifying(proxy: TcpProxy, sessionManager: Http2SessionManager, start: () => void) {
  const connection = await connectionOf(sessionManager);
  await sleep(PING_INTERVAL_MS * 3);
  proxy.blackhole(true);
  start();
  await until(() => sessionManager.state() === "verifying", "the manager to check its connection");
  connection.close();
  await until(() => connection.closed, "the connection to close");
  proxy.blackhole(false);
}

describe("a connection that closes while connect-node checks it", () => {
  it("does not leave the request that waited for the check, nor later ones, waiting for good", async () => {
    const { proxy, sessionManager, client, sessionId } = await setUp();
    settleVerifyOnClose(sessionManager);
    let answered: Promise<unknown> = Promise.resolve();
    await closeWhileVerifying(proxy, sessionManager, () => {
      answered = client.getSession({ sessionId });
    });
    expect(await within(answered)).not.toBe(STILL_WAITING);
    await sleep(PING_INTERVAL_MS * 3);
    expect(await within(client.getSession({ sessionId }))).not.toBe(STILL_WAITING);
  }, 30_000);

  it("a multiplexed watch on it reconnects and gets the changes made after", async () => {
    const { proxy, sessionManager, client, sessionId } = await setUp();
    const consumer = createStreamConsumer({
      sessionId,
      client,
      connection: { sessionManager },
      streams: "multiplexed",
      heartbeatIntervalMs: 50,
      missedHeartbeats: 3,
      reconnect: { baseDelayMs: 5, maxDelayMs: 50, maxFailures: 1_000 },
    });
    cleanups.push(() => consumer.close());
    const events: WatchEvent[] = [];
    const statuses: WatchStatus[] = [];
    const handle = await consumer.watch(["v"], (event) => void events.push(event), {
      onStatus: (status) => void statuses.push(status),
    });
    // The watch's stream goes silent in the partition; its reconnect asks the manager for a
    // stream, which first checks the connection.
    await closeWhileVerifying(proxy, sessionManager, () => {});
    const { revision } = await client.setVariable({
      sessionId,
      identifier: "v",
      value: { kind: { case: "integerValue", value: 7n } },
    });
    await until(
      () => handle.info().revision >= Number(revision),
      `the watch to reach revision ${revision} (it was told ${JSON.stringify(statuses.slice(-3))})`,
    );
    expect(events.map((event) => event.revision)).toEqual([Number(revision)]);
    expect(statuses.some((status) => status.kind === "resumed")).toBe(true);
  }, 30_000);
});

const STILL_WAITING = Symbol("still waiting");

/** What `promise` settles with, or STILL_WAITING after 10 s (a hang, not a slow answer). */
function within(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([promise, sleep(10_000).then(() => STILL_WAITING)]);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after 10 s`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
