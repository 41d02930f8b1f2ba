import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type BridgedStateProvider, createBridgedState } from "../src/index.js";
import { startServerProcess } from "./support/server-process.js";

// A session recreated under the same id (here after an in-process server was closed and a new
// one started on its port) is another session: BridgedState says so instead of following it.
const servers: BridgeServer[] = [];
const providers: BridgedStateProvider[] = [];

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(
  port = 0,
  options: Parameters<typeof createBridgeServer>[0] = {},
): Promise<BridgeServer> {
  const server = await createBridgeServer({ host: "127.0.0.1", port, shutdownGraceMs: 100, ...options });
  servers.push(server);
  return server;
}

async function open(
  server: BridgeServer,
  sessionId: string,
  options: Partial<Parameters<typeof createBridgedState>[0]> = {},
): Promise<BridgedStateProvider> {
  const provider = await createBridgedState({
    url: server.url,
    sessionId,
    watch: { reconnect: { baseDelayMs: 20, maxDelayMs: 100, maxFailures: 50 } },
    ...options,
  });
  providers.push(provider);
  return provider;
}

describe("BridgedState and session incarnations", () => {
  it("created is true for the provider that created the session and false for the next one; both know its incarnation", async () => {
    const server = await serve();
    const first = await open(server, "s1");
    const second = await open(server, "s1");
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(first.incarnation).toMatch(/^[0-9a-f]{16}$/);
    expect(second.incarnation).toBe(first.incarnation);
  });

  for (const streams of ["multiplexed", "per-watch"] as const) {
    // Regression: after a restart, a client recreated the session and wrote; every watcher
    // resumed into the new session's history as if it followed the old one.
    it(`a watcher whose server restarted and whose session was recreated gets session_expired, and the provider's next call fails with it (${streams})`, async () => {
      const before = await serve();
      const port = Number(new URL(before.url).port);
      const watching = await open(before, "s", {
        watch: { streams, reconnect: { baseDelayMs: 20, maxDelayMs: 100, maxFailures: 50 } },
      });
      await watching.register("x", "integer", 0);
      const events: WatchEvent[] = [];
      const handle = await watching.watch(["x"], (event) => void events.push(event));
      await watching.set("x", 1);
      await watching.set("x", 2);
      await vi.waitFor(() => expect(events).toHaveLength(2));
      await before.close();
      servers.splice(servers.indexOf(before), 1);

      const after = await serve(port);
      await after.store.initializeSession("s");
      await after.store.register("s", "x", "integer", 0);
      for (let value = 10; value < 15; value++) await after.store.set("s", "x", value);
      const recreatedBy = await open(after, "s");
      expect(recreatedBy.created).toBe(false);
      expect(recreatedBy.incarnation).not.toBe(watching.incarnation);

      const error = await handle.done;
      expect(error?.code).toBe("session_expired");
      expect(error?.message).toContain("was recreated");
      expect(events.map((event) => event.newValue)).toEqual([1, 2]);
      await expect(watching.get("x")).rejects.toMatchObject({ code: "session_expired" });
      await expect(watching.set("x", 3)).rejects.toThrow(/create a new BridgedState/);
      expect((await after.store.getVariable("s", "x")).value).toBe(14);
    });
  }

  it("a provider whose call found its session gone does not go on with a session recreated later", async () => {
    const server = await serve();
    const provider = await open(server, "s");
    await provider.register("x", "integer", 0);
    await server.store.deleteSession("s");
    await expect(provider.get("x")).rejects.toMatchObject({ code: "session_expired" });
    await server.store.initializeSession("s");
    await server.store.register("s", "x", "integer", 7);
    await expect(provider.get("x")).rejects.toThrow(/create a new BridgedState/);
  });

  // Regression: a process that only watched lost its session after the TTL.
  it("a provider that only watches keeps its session past the TTL", async () => {
    const server = await serve(0, { sessionTtlSeconds: 1 });
    const provider = await open(server, "s");
    await provider.register("x", "integer", 0);
    const handle = await provider.watch(["x"], () => {});
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(handle.info().state).toBe("active");
    expect(await provider.get("x")).toBe(0);
  });

  it("against `bridge-server --session-ttl 1 --heartbeat-interval-ms 30000`, a provider that only watches keeps its session and its stream, with no reconnect", async () => {
    const server = await startServerProcess(["--session-ttl", "1", "--heartbeat-interval-ms", "30000"]);
    try {
      const provider = await createBridgedState({
        url: server.url,
        watch: { heartbeatIntervalMs: 200, missedHeartbeats: 3 },
      });
      providers.push(provider);
      await provider.register("x", "integer", 0);
      const handle = await provider.watch(["x"], () => {});
      // Four silence limits and more than twice the TTL.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(provider.listWatchers()[0]).toMatchObject({ state: "active", reconnects: 0 });
      expect(await provider.get("x")).toBe(0);
      await handle.close();
    } finally {
      await Promise.all(providers.splice(0).map((provider) => provider.close()));
      await server.stop();
    }
  });
});
