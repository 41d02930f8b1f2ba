import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import {
  isStateError,
  type StateError,
  type StateProvider,
  type WatchEvent,
} from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createBridgedState } from "../src/index.js";
import { createBridgeTransport } from "../src/transport.js";
import { type PeerProcess, startPeerProcess } from "./support/peer-process.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

// BridgedState watching across processes: this process watches, a peer process writes, and
// the bridge-server runs as a third.
let server: ServerProcess;
const providers: StateProvider[] = [];
const peers: PeerProcess[] = [];

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterEach(async () => {
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

afterAll(async () => {
  await server?.stop();
});

async function open(sessionId?: string): Promise<StateProvider> {
  const provider = await createBridgedState({
    url: server.url,
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  providers.push(provider);
  return provider;
}

async function peerOn(sessionId: string): Promise<PeerProcess> {
  const peer = startPeerProcess();
  peers.push(peer);
  await peer.call("open", { url: server.url, sessionId });
  return peer;
}

describe("BridgedState.watch", () => {
  it("declares capabilities.watch", async () => {
    const provider = await open();
    expect(provider.capabilities.watch).toBe(true);
  });

  it("a watcher sees the changes another process makes, in order, with its source, a batch as one revision", async () => {
    const provider = await open();
    await provider.register("a", "integer", 0);
    await provider.register("b", "string", "x");
    const events: WatchEvent[] = [];
    await provider.watch(["a", "b"], (event) => void events.push(event));
    const peer = await peerOn(provider.sessionId);
    for (let value = 1; value <= 20; value++) await peer.call("set", { identifier: "a", value });
    const batch = await peer.call<{ revision: number }>("updateMany", {
      updates: [
        ["a", 21],
        ["b", "y"],
      ],
      atomic: true,
    });
    await vi.waitFor(() => expect(events).toHaveLength(22), { timeout: 10_000 });
    expect(events.slice(0, 20).map((event) => event.newValue)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    expect(events.every((event) => event.source === "peer")).toBe(true);
    expect(events.slice(20).map((event) => [event.name, event.newValue, event.revision])).toEqual([
      ["a", 21, batch.revision],
      ["b", "y", batch.revision],
    ]);
  });

  it("listWatchers() reports each live watch with its identifiers, revision and counters", async () => {
    const provider = await open();
    const a = await provider.register("a", "integer", 0);
    const first = await provider.watch(["a"], () => {});
    const second = await provider.watch([a.id], () => {}, { filter: (event) => event.newValue === 2 });
    await provider.set("a", 1);
    const version = await provider.set("a", 2);
    expect(version).toBe(2);
    await vi.waitFor(() => expect(second.info().received).toBe(2));
    const listed = new Map(provider.listWatchers().map((info) => [info.watchId, info]));
    expect([...listed.keys()].sort()).toEqual([first.watchId, second.watchId].sort());
    expect(listed.get(second.watchId)).toMatchObject({
      identifiers: [a.id],
      received: 2,
      filtered: 1,
      delivered: 1,
      failed: 0,
      reconnects: 0,
      state: "active",
    });
    await first.close();
    expect(provider.listWatchers().map((info) => info.watchId)).toEqual([second.watchId]);
  });

  it("a session deleted elsewhere ends the watch with session_expired, through onError and done", async () => {
    const provider = await open();
    await provider.register("a", "integer", 0);
    const errors: StateError[] = [];
    const handle = await provider.watch(["a"], () => {}, { onError: (error) => errors.push(error) });
    const transport = createBridgeTransport({ url: server.url });
    try {
      await createClient(BridgeService, transport.transport).cleanupSession({
        sessionId: provider.sessionId,
      });
    } finally {
      transport.close();
    }
    const ended = await handle.done;
    expect(isStateError(ended, "session_expired")).toBe(true);
    expect(errors).toEqual([ended]);
    expect(provider.listWatchers()).toEqual([]);
  });

  it("close() of the provider ends every watch with done undefined", async () => {
    const provider = await open();
    await provider.register("a", "integer", 0);
    const handles = await Promise.all([1, 2, 3].map(() => provider.watch(["a"], () => {})));
    await provider.close();
    expect(await Promise.all(handles.map((handle) => handle.done))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(handles.map((handle) => handle.info().state)).toEqual(["closed", "closed", "closed"]);
    expect(provider.listWatchers()).toEqual([]);
    await expect(provider.watch(["a"], () => {})).rejects.toSatisfy((error) => isStateError(error, "closed"));
  });
});
