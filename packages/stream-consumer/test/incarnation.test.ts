import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer, type StreamConsumer, type StreamConsumerOptions } from "../src/index.js";
import { createSession, startBridge, type TestBridge } from "./support/bridge.js";

const MODES = ["per-watch", "multiplexed"] as const;
const fast = { baseDelayMs: 20, maxDelayMs: 100, maxFailures: 50 };

let bridges: TestBridge[] = [];
let consumers: StreamConsumer[] = [];

afterEach(async () => {
  await Promise.all(consumers.map((consumer) => consumer.close()));
  await Promise.all(bridges.map((bridge) => bridge.close()));
  consumers = [];
  bridges = [];
});

async function bridgeWith(options: Parameters<typeof startBridge>[0] = {}): Promise<TestBridge> {
  const bridge = await startBridge(options);
  bridges.push(bridge);
  return bridge;
}

function consumerOf(bridge: TestBridge, options: Partial<StreamConsumerOptions>): StreamConsumer {
  const consumer = createStreamConsumer({
    client: bridge.client(),
    sessionId: "s",
    reconnect: fast,
    heartbeatIntervalMs: 200,
    ...options,
  });
  consumers.push(consumer);
  return consumer;
}

describe.each(MODES)("session incarnations (%s)", (streams) => {
  // Regression: after a server restart, a client recreated the session and wrote; every
  // watcher resumed into the new session's history as if it followed the old one.
  it("a watch resuming into a session recreated after a server restart ends with session_expired, delivering nothing of the new session", async () => {
    const before = await bridgeWith();
    await createSession(before.server, "s", ["x"]);
    const port = Number(new URL(before.server.url).port);
    const consumer = consumerOf(before, { streams });
    const events: WatchEvent[] = [];
    const handle = await consumer.watch(["x"], (event) => void events.push(event));
    await before.server.store.set("s", "x", 1);
    await before.server.store.set("s", "x", 2);
    await vi.waitFor(() => expect(events).toHaveLength(2));
    await before.close();
    bridges = bridges.filter((bridge) => bridge !== before);

    const after = await bridgeWith({ port });
    await createSession(after.server, "s", ["x"]);
    for (let value = 10; value < 15; value++) await after.server.store.set("s", "x", value);
    const error = await handle.done;
    expect(error?.code).toBe("session_expired");
    expect(error?.message).toContain("was recreated");
    expect(events.map((event) => event.newValue)).toEqual([1, 2]);
  });

  it("a watch given the incarnation it expects fails at once against another one", async () => {
    const bridge = await bridgeWith();
    await createSession(bridge.server, "s", ["x"]);
    const consumer = consumerOf(bridge, { streams, incarnation: "0123456789abcdef" });
    await expect(consumer.watch(["x"], () => {})).rejects.toMatchObject({ code: "session_expired" });
    const current = (await bridge.server.store.getSession("s")).incarnation;
    const matching = consumerOf(bridge, { streams, incarnation: () => current });
    const handle = await matching.watch(["x"], () => {});
    expect(handle.info().state).toBe("active");
  });
});

describe.each(MODES)("heartbeat negotiation (%s)", (streams) => {
  // Regression: a multiplexed stream could not ask for an interval, so a server with a long
  // --heartbeat-interval-ms made every default client reconnect after its silence limit.
  it("a server whose default interval is far longer than the client's silence limit causes no reconnect", async () => {
    const bridge = await bridgeWith({ heartbeatIntervalMs: 60_000 });
    await createSession(bridge.server, "s", ["x"]);
    const consumer = consumerOf(bridge, { streams, heartbeatIntervalMs: 100, missedHeartbeats: 3 });
    const handle = await consumer.watch(["x"], () => {});
    // Five silence limits: without negotiation the stream is taken for dead several times.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(handle.info()).toMatchObject({ state: "active", reconnects: 0 });
  });

  it("a client asking for a longer interval than the server's default causes no reconnect either", async () => {
    const bridge = await bridgeWith({ heartbeatIntervalMs: 20 });
    await createSession(bridge.server, "s", ["x"]);
    const consumer = consumerOf(bridge, { streams, heartbeatIntervalMs: 300, missedHeartbeats: 2 });
    const handle = await consumer.watch(["x"], () => {});
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(handle.info()).toMatchObject({ state: "active", reconnects: 0 });
  });
});
