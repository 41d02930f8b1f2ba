import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer } from "../src/index.js";
import { startBridge } from "./support/bridge.js";

// Regression (issue 10, item 4): a watch resumed with a fromRevision ahead of the session (a
// session recreated or re-imported) got the server's resync, at a revision below its resume
// point, and dropped it and every later event as repeats.

const MODES = ["per-watch", "multiplexed"] as const;
const PATHS = ["connect", "direct"] as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(MODES)("a resume point ahead of the session (%s streams)", (mode) => {
  it.each(PATHS)(
    "fromRevision ahead of the session: the resync is delivered, then every later change (%s)",
    async (path) => {
      const bridge = await startBridge();
      cleanups.push(() => bridge.close());
      const { store, url } = { store: bridge.server.store, url: bridge.server.url };
      const sessionId = `ahead-${mode}-${path}`;
      await store.initializeSession(sessionId);
      const x = (await store.register(sessionId, "x", "integer", 7)).variable;
      const sessionManager = new Http2SessionManager(url);
      cleanups.push(() => sessionManager.abort());
      const consumer = createStreamConsumer({
        sessionId,
        streams: mode,
        ...(path === "direct"
          ? { connection: { sessionManager } }
          : { client: createClient(BridgeService, createGrpcTransport({ baseUrl: url, sessionManager })) }),
      });
      cleanups.push(() => consumer.close());
      const events: WatchEvent[] = [];
      const handle = await consumer.watch(["x"], (event) => void events.push(event), { fromRevision: 1_000 });
      await vi.waitFor(() => expect(events).toHaveLength(1));
      const current = (await store.getSession(sessionId)).revision;
      expect(events[0]).toMatchObject({ type: "resync", id: x.id, newValue: 7, revision: current });
      const { revision } = await store.set(sessionId, "x", 8);
      await vi.waitFor(() => expect(events).toHaveLength(2));
      expect(events[1]).toMatchObject({ type: "value_change", newValue: 8, oldValue: 7, revision });
      expect(handle.info()).toMatchObject({ revision, duplicates: 0 });
    },
  );
});
