import { createClient } from "@connectrpc/connect";
import { createBridgeServer } from "@statebridge/bridge-server";
import { BridgeService } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { startTcpProxy } from "../../stream-consumer/test/support/tcp-proxy.js";
import { createBridgeTransport } from "../src/transport.js";

// Regression: BridgedState's connection is checked with a PING before a call after
// pingIntervalMs of quiet (connect-node 2.1). A connection that closed cleanly while that PING
// waited left the check pending for good, and every later call of the provider hanging.

const PING_INTERVAL_MS = 50;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STILL_WAITING = Symbol("still waiting");
/** What `promise` settles with, or STILL_WAITING after 10 s (a hang, not a slow answer). */
const within = (promise: Promise<unknown>) =>
  Promise.race([promise.catch((error: unknown) => error), sleep(10_000).then(() => STILL_WAITING)]);

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(2);
  }
}

describe("BridgedState's connection (createBridgeTransport) closing while it is being checked", () => {
  it("leaves no call waiting for good: the call that waited and the next ones are answered", async () => {
    const server = await createBridgeServer({ port: 0, shutdownGraceMs: 100 });
    cleanups.push(() => server.close());
    const proxy = await startTcpProxy(server.port);
    cleanups.push(() => proxy.close());
    // A long PING timeout: the check must end because the connection closed.
    const transport = createBridgeTransport({
      url: proxy.url,
      pingIntervalMs: PING_INTERVAL_MS,
      pingTimeoutMs: 60_000,
    });
    cleanups.push(() => transport.close());
    const client = createClient(BridgeService, transport.transport);
    await client.initializeSession({ sessionId: "verify" });
    const call = () => client.getSession({ sessionId: "verify" }).then((answer) => answer.session?.sessionId);
    const { sessionManager } = transport.connection;
    const stream = await sessionManager.request("POST", "/statebridge.v1.BridgeService/GetSession", {}, {});
    stream.on("error", () => {});
    stream.close();
    const connection = stream.session;
    if (connection === undefined) throw new Error("no connection");

    // Quiet past the interval, the network held: the next call makes the manager check.
    await sleep(PING_INTERVAL_MS * 3);
    proxy.blackhole(true);
    const waiting = call();
    await until(() => sessionManager.state() === "verifying", "the manager to check its connection");
    connection.close();
    await until(() => connection.closed, "the connection to close");
    proxy.blackhole(false);

    expect(await within(waiting)).toBe("verify");
    await sleep(PING_INTERVAL_MS * 3);
    expect(await within(call())).toBe("verify");
  }, 30_000);
});
