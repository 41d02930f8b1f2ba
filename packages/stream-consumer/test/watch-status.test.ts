import { isStateError, type WatchEvent } from "@statebridge/state-provider";
import { describe, expect, it, vi } from "vitest";
import type { WatchStatus } from "../src/index.js";
import { clientOf, consumerOf, integer, proxyTo, serverProcess } from "./support/fault-fixtures.js";

// Guards the liveness a user can see: a server gone for good shows as `reconnecting` with
// growing attempts and then `gave_up`, not as minutes of silence; a server that comes back
// shows as `resumed` at the revision the watch had reached.
const MODES = ["per-watch", "multiplexed"] as const;
const HEARTBEAT_MS = 50;

describe("the connection state a watcher is told (onStatus)", () => {
  it.each(MODES)(
    "a server stopped for good (%s): connected, then reconnecting with attempts 1, 2, 3, then gave_up with the error the watch ends with",
    async (mode) => {
      const server = await serverProcess(["--heartbeat-interval-ms", String(HEARTBEAT_MS)]);
      const writer = clientOf(server.url);
      const sessionId = `gone-${mode}`;
      await writer.initializeSession({ sessionId });
      const registered = await writer.registerVariable({
        sessionId,
        name: "x",
        type: "integer",
        initialValue: integer(0),
      });
      const consumer = consumerOf({
        client: clientOf(server.url),
        sessionId,
        streams: mode,
        heartbeatIntervalMs: HEARTBEAT_MS,
        reconnect: { baseDelayMs: 10, maxDelayMs: 40, maxFailures: 3 },
      });
      const statuses: WatchStatus[] = [];
      const handle = await consumer.watch(["x"], () => {}, {
        onStatus: (status) => statuses.push(status),
      });
      expect(statuses).toEqual([{ kind: "connected", revision: Number(registered.revision) }]);
      await server.stop("SIGKILL");
      const ended = await handle.done;
      expect(isStateError(ended, "unavailable"), String(ended)).toBe(true);
      expect(statuses.map((status) => status.kind)).toEqual([
        "connected",
        "reconnecting",
        "reconnecting",
        "reconnecting",
        "gave_up",
      ]);
      const reconnecting = statuses.filter((status) => status.kind === "reconnecting");
      expect(reconnecting.map((status) => status.attempt)).toEqual([1, 2, 3]);
      for (const status of reconnecting) {
        expect(status.delayMs).toBeGreaterThanOrEqual(0);
        expect(status.delayMs).toBeLessThanOrEqual(40);
        expect(isStateError(status.error, "unavailable"), String(status.error)).toBe(true);
      }
      expect(statuses.at(-1)).toEqual({ kind: "gave_up", error: ended });
    },
    60_000,
  );

  it.each(MODES)(
    "a server that comes back after a partition (%s): reconnecting, then resumed at the last revision delivered, and nothing is lost",
    async (mode) => {
      const server = await serverProcess(["--heartbeat-interval-ms", String(HEARTBEAT_MS)]);
      const proxy = await proxyTo(server.port);
      const writer = clientOf(server.url);
      const sessionId = `back-${mode}`;
      await writer.initializeSession({ sessionId });
      await writer.registerVariable({ sessionId, name: "x", type: "integer", initialValue: integer(0) });
      const consumer = consumerOf({
        client: clientOf(proxy.url),
        sessionId,
        streams: mode,
        heartbeatIntervalMs: HEARTBEAT_MS,
        reconnect: { baseDelayMs: 10, maxDelayMs: 100, maxFailures: 1_000 },
      });
      const statuses: WatchStatus[] = [];
      const events: WatchEvent[] = [];
      const handle = await consumer.watch(["x"], (event) => void events.push(event), {
        onStatus: (status) => statuses.push(status),
      });
      const before = await writer.setVariable({ sessionId, identifier: "x", value: integer(1) });
      await vi.waitFor(() => expect(events).toHaveLength(1));
      proxy.blackhole(true);
      await vi.waitFor(() => expect(statuses.some((status) => status.kind === "reconnecting")).toBe(true), {
        timeout: 15_000,
      });
      const during = await writer.setVariable({ sessionId, identifier: "x", value: integer(2) });
      proxy.blackhole(false);
      await vi.waitFor(() => expect(events).toHaveLength(2), { timeout: 15_000 });
      expect(events.map((event) => event.revision)).toEqual([
        Number(before.revision),
        Number(during.revision),
      ]);
      expect(statuses[0]?.kind).toBe("connected");
      const kinds = statuses.map((status) => status.kind);
      expect(kinds.slice(1, -1).every((kind) => kind === "reconnecting")).toBe(true);
      expect(statuses.at(-1)).toEqual({ kind: "resumed", revision: Number(before.revision) });
      expect(handle.info().state).toBe("active");
    },
    60_000,
  );
});
