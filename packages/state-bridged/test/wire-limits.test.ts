import {
  isStateError,
  type StateError,
  type StateProvider,
  type WatchEvent,
} from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type BridgedStateOptions, createBridgedState } from "../src/index.js";
import { type PathProxy, startPathProxy } from "./support/path-proxy.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

// What the direct gRPC paths of BridgedState do with large messages and with a server behind
// a path prefix. The server runs as a child process, heartbeating every 250 ms; the watching
// client takes a stream for dead after 6 s of silence, far less than a 2M-element event took
// to arrive when reassembly was quadratic, far more than it takes now.
const HEARTBEAT_MS = 250;
let server: ServerProcess;
const providers: StateProvider[] = [];

beforeAll(async () => {
  server = await startServerProcess(["--heartbeat-interval-ms", String(HEARTBEAT_MS)]);
}, 30_000);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

afterAll(async () => {
  await server?.stop();
});

async function open(options: Partial<BridgedStateOptions> = {}): Promise<StateProvider> {
  const provider = await createBridgedState({ url: server.url, deadlineMs: 30_000, ...options });
  providers.push(provider);
  return provider;
}

async function failure(promise: Promise<unknown>): Promise<StateError> {
  try {
    await promise;
  } catch (error) {
    if (isStateError(error)) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

/** 2,000,000 float64s: 16 MB on the wire, about a thousand DATA frames. */
function largeEmbedding(): number[] {
  return Array.from({ length: 2_000_000 }, (_, index) => index / 7);
}

describe.each(["multiplexed", "per-watch"] as const)("a large watch event on a %s stream", (streams) => {
  // Regression: reassembly copied the pending bytes on every DATA frame (quadratic), so a
  // 2M-element event took longer than the silence limit to arrive, and the client took the
  // stream for dead mid-message and reconnected, again and again.
  it("a 2M-element embedding event arrives whole, without a reconnect", { timeout: 120_000 }, async () => {
    const writer = await open();
    await writer.register("vector", "embedding", [0]);
    const reader = await open({
      sessionId: writer.sessionId,
      watch: { streams, heartbeatIntervalMs: HEARTBEAT_MS, missedHeartbeats: 24 },
    });
    const events: WatchEvent[] = [];
    await reader.watch(["vector"], (event) => void events.push(event));
    const value = largeEmbedding();
    await writer.set("vector", value);
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 60_000, interval: 50 });
    const received = events[0]?.newValue as number[];
    expect(received).toHaveLength(value.length);
    expect(received.every((element, index) => element === value[index])).toBe(true);
    expect(reader.listWatchers().map((watch) => watch.reconnects)).toEqual([0]);
  });
});

describe("maxReceiveBytes", () => {
  it("a response larger than maxReceiveBytes fails the call with resource_exhausted naming the limit", async () => {
    const writer = await open();
    await writer.register("vector", "embedding", largeEmbedding());
    const reader = await open({ sessionId: writer.sessionId, maxReceiveBytes: 1024 * 1024 });
    const error = await failure(reader.get("vector"));
    expect(error.code).toBe("resource_exhausted");
    expect(error.message).toMatch(
      /larger than the maximum receive size of 1048576 bytes \(maxReceiveBytes\)/,
    );
    // The connection is fine: smaller answers still come.
    await reader.register("small", "integer", 1);
    expect(await reader.get("small")).toBe(1);
  });

  it("a watch event larger than maxReceiveBytes ends the watch with resource_exhausted, without reconnecting", {
    timeout: 60_000,
  }, async () => {
    const writer = await open();
    await writer.register("vector", "embedding", [0]);
    const reader = await open({
      sessionId: writer.sessionId,
      maxReceiveBytes: 1024 * 1024,
      watch: { reconnect: { baseDelayMs: 10, maxDelayMs: 10 } },
    });
    const handle = await reader.watch(["vector"], () => {});
    await writer.set("vector", largeEmbedding());
    const error = await handle.done;
    expect(error?.code).toBe("resource_exhausted");
    expect(error?.message).toMatch(/maximum receive size of 1048576 bytes/);
    expect(reader.listWatchers()).toEqual([]);
  });

  it("maxReceiveBytes must be a positive number", async () => {
    const error = await failure(createBridgedState({ url: server.url, maxReceiveBytes: 0 }));
    expect(error.code).toBe("invalid_value");
    expect(error.message).toMatch(/maxReceiveBytes/);
  });
});

describe("a server behind a path-routing proxy", () => {
  let proxy: PathProxy;
  beforeAll(async () => {
    proxy = await startPathProxy(server.url, "/statebridge");
  });
  afterAll(async () => {
    await proxy?.close();
  });

  // Regression: the direct unary caller dropped the URL's path, which connect's transport keeps.
  it("calls and watch streams keep the URL's path prefix", async () => {
    const provider = await open({ url: `${proxy.url}/statebridge/` });
    await provider.register("count", "integer", 1);
    const events: WatchEvent[] = [];
    await provider.watch(["count"], (event) => void events.push(event));
    await provider.set("count", 2);
    expect(await provider.get("count")).toBe(2);
    await vi.waitFor(() => expect(events.map((event) => event.newValue)).toEqual([2]), { timeout: 10_000 });
    expect(proxy.paths.length).toBeGreaterThan(0);
    expect(proxy.paths.every((path) => path.startsWith("/statebridge/statebridge.v1.BridgeService/"))).toBe(
      true,
    );
  });

  it("per-watch streams keep the URL's path prefix", async () => {
    const provider = await open({ url: `${proxy.url}/statebridge`, watch: { streams: "per-watch" } });
    await provider.register("count", "integer", 1);
    const events: WatchEvent[] = [];
    await provider.watch(["count"], (event) => void events.push(event));
    await provider.set("count", 3);
    await vi.waitFor(() => expect(events.map((event) => event.newValue)).toEqual([3]), { timeout: 10_000 });
  });
});
