import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer, type StreamConsumerOptions } from "../src/index.js";
import { startBridge, type TestBridge } from "./support/bridge.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

// Regression (issue 10, item 1): a watch by name resolved the name again when it resumed, so
// after a delete and a re-register under the same name a watcher that had reconnected followed
// the new variable mid-history, while one that had not never saw it. A watch follows the ids
// its names had when it started, across reconnects.

const MODES = ["per-watch", "multiplexed"] as const;
const PATHS = ["connect", "direct"] as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function bridge(): Promise<TestBridge> {
  const started = await startBridge({ heartbeatIntervalMs: 50 });
  cleanups.push(() => started.close());
  return started;
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(port);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A consumer on its own connection to `baseUrl`, through connect or directly on HTTP/2. */
function consumerOn(
  baseUrl: string,
  path: (typeof PATHS)[number],
  options: Omit<StreamConsumerOptions, "client" | "connection">,
) {
  const sessionManager = new Http2SessionManager(baseUrl, { pingIntervalMs: 500, pingTimeoutMs: 500 });
  const consumer = createStreamConsumer(
    path === "direct"
      ? { ...options, connection: { sessionManager } }
      : {
          ...options,
          client: createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager })),
        },
  );
  cleanups.push(() => sessionManager.abort());
  cleanups.push(() => consumer.close());
  return consumer;
}

function changesOf(events: readonly WatchEvent[]): string[] {
  return events.map((event) => `${event.type} ${event.identifier} ${event.id} ${String(event.newValue)}`);
}

describe.each(MODES)("a watch follows the variable ids it started with (%s streams)", (mode) => {
  it.each(PATHS)(
    "after a delete and a re-register under the watched name, a watcher that reconnected in between and one that did not both get the deletion and nothing of the new variable (%s)",
    async (path) => {
      const { server } = await bridge();
      const proxy = await proxyTo(server.port);
      const sessionId = `identity-${mode}-${path}`;
      const store = server.store;
      await store.initializeSession(sessionId);
      const old = (await store.register(sessionId, "x", "integer", 0)).variable;
      await store.register(sessionId, "y", "integer", 0);
      const options = {
        sessionId,
        streams: mode,
        heartbeatIntervalMs: 50,
        reconnect: { baseDelayMs: 10, maxDelayMs: 50, maxFailures: 1_000 },
      };
      const reconnected: WatchEvent[] = [];
      const steady: WatchEvent[] = [];
      const cutOff = await consumerOn(proxy.url, path, options).watch(["x", "y"], (event) => {
        reconnected.push(event);
      });
      await consumerOn(server.url, path, options).watch(["x", "y"], (event) => {
        steady.push(event);
      });
      await store.set(sessionId, "x", 1);
      await vi.waitFor(() => expect(reconnected).toHaveLength(1));

      proxy.blackhole(true);
      await store.delete(sessionId, "x");
      const reborn = (await store.register(sessionId, "x", "integer", 100)).variable;
      await store.set(sessionId, "x", 101);
      await store.set(sessionId, "y", 1);
      proxy.cut();
      proxy.blackhole(false);
      const sawY = (events: WatchEvent[], value: number) => () =>
        expect(events.some((event) => event.name === "y" && event.newValue === value)).toBe(true);
      await vi.waitFor(sawY(reconnected, 1), { timeout: 10_000 });
      await vi.waitFor(sawY(steady, 1));
      expect(cutOff.info().reconnects).toBeGreaterThanOrEqual(1);

      const expected = [`value_change x ${old.id} 1`, `deleted x ${old.id} undefined`];
      const y = steady.at(-1)?.id;
      expect(changesOf(steady)).toEqual([...expected, `value_change y ${y} 1`]);
      expect(changesOf(reconnected)).toEqual(changesOf(steady));

      // And after the reconnect too: the new x stays out, the rest goes on.
      await store.set(sessionId, "x", 102);
      await store.set(sessionId, "y", 2);
      await vi.waitFor(sawY(reconnected, 2));
      await vi.waitFor(sawY(steady, 2));
      for (const events of [reconnected, steady]) {
        expect(events.some((event) => event.id === reborn.id)).toBe(false);
        expect(events).toHaveLength(4);
        expect(events.at(-1)?.identifier).toBe("y");
      }
    },
    30_000,
  );
});

describe.each(MODES)("a watch whose every variable was deleted (%s streams)", (mode) => {
  it("is not ended by a reconnect, and gets nothing of a variable registered later under the name", async () => {
    const { server } = await bridge();
    const proxy = await proxyTo(server.port);
    const sessionId = `all-deleted-${mode}`;
    const store = server.store;
    await store.initializeSession(sessionId);
    await store.register(sessionId, "x", "integer", 0);
    await store.register(sessionId, "y", "integer", 0);
    const consumer = consumerOn(proxy.url, "connect", {
      sessionId,
      streams: mode,
      heartbeatIntervalMs: 50,
      reconnect: { baseDelayMs: 10, maxDelayMs: 50, maxFailures: 1_000 },
    });
    const seen: WatchEvent[] = [];
    const emptied = await consumer.watch(["x"], (event) => void seen.push(event));
    const sibling: WatchEvent[] = [];
    await consumer.watch(["y"], (event) => void sibling.push(event));
    await store.delete(sessionId, "x");
    await vi.waitFor(() => expect(seen.map((event) => event.type)).toEqual(["deleted"]));
    proxy.cut();
    await store.register(sessionId, "x", "integer", 100);
    await store.set(sessionId, "x", 101);
    await store.set(sessionId, "y", 1);
    // The sibling resumed after the cut: the emptied watch had as long to reopen.
    await vi.waitFor(() => expect(sibling).toHaveLength(1), { timeout: 10_000 });
    await store.set(sessionId, "x", 102);
    await store.set(sessionId, "y", 2);
    await vi.waitFor(() => expect(sibling).toHaveLength(2));
    let ended: unknown = "still open";
    void emptied.done.then((error) => {
      ended = error;
    });
    await Promise.resolve();
    expect(ended).toBe("still open");
    expect(emptied.info().state).toBe("active");
    expect(seen.map((event) => event.type)).toEqual(["deleted"]);
    await emptied.close();
    expect(await emptied.done).toBeUndefined();
  });
});
