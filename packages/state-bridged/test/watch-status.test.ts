import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import { isStateError, type StateError } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { type BridgedStateProvider, createBridgedState, type WatchStatus } from "../src/index.js";

// Guards the liveness a BridgedState watcher can see: a server gone for good shows through
// the watch's onStatus as reconnecting, then gave_up, rather than as minutes of silence.
const servers: BridgeServer[] = [];
const providers: BridgedStateProvider[] = [];

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("BridgedState watch onStatus", () => {
  for (const streams of ["multiplexed", "per-watch"] as const) {
    it(`a watcher whose server stopped for good is told connected, reconnecting with attempts 1 to maxFailures, then gave_up with the error the watch ends with (${streams})`, async () => {
      const server = await createBridgeServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 100 });
      servers.push(server);
      const provider = await createBridgedState({
        url: server.url,
        sessionId: "s",
        watch: { streams, reconnect: { baseDelayMs: 10, maxDelayMs: 40, maxFailures: 3 } },
      });
      providers.push(provider);
      await provider.register("x", "integer", 0);
      const statuses: WatchStatus[] = [];
      const errors: StateError[] = [];
      const handle = await provider.watch(["x"], () => {}, {
        onStatus: (status) => statuses.push(status),
        onError: (error) => errors.push(error),
      });
      expect(statuses).toEqual([{ kind: "connected", revision: handle.info().revision }]);
      await server.close();
      const ended = await handle.done;
      expect(isStateError(ended, "unavailable"), String(ended)).toBe(true);
      expect(errors).toEqual([ended]);
      expect(statuses.map((status) => status.kind)).toEqual([
        "connected",
        "reconnecting",
        "reconnecting",
        "reconnecting",
        "gave_up",
      ]);
      expect(statuses.flatMap((status) => (status.kind === "reconnecting" ? [status.attempt] : []))).toEqual([
        1, 2, 3,
      ]);
      expect(statuses.at(-1)).toEqual({ kind: "gave_up", error: ended });
    });
  }
});
