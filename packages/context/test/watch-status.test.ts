import type { WatchStatus } from "@statebridge/state-bridged";
import { isStateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { createContext } from "../src/index.js";
import { startBridgeProcess } from "./bridge-process.js";

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Guards that a Context passes a watch's onStatus on to the backend it moves to: LocalState
// never reconnects and tells nothing; after the switch the bridged watch tells its state.
describe("Context watch onStatus", () => {
  it("tells nothing on LocalState, connected after the switch, then reconnecting and gave_up when the bridge stops for good", async () => {
    const server = await startBridgeProcess();
    try {
      const context = await createContext({
        bridge: {
          url: server.url,
          options: { watch: { reconnect: { baseDelayMs: 10, maxDelayMs: 40, maxFailures: 2 } } },
        },
      });
      await context.register("x", "integer", 0);
      const statuses: WatchStatus[] = [];
      const handle = await context.watch(["x"], () => {}, { onStatus: (status) => statuses.push(status) });
      await context.set("x", 1);
      expect(statuses).toEqual([]);
      await context.ensureBridged();
      await waitFor(() => statuses.length > 0, "a status after the switch");
      expect(statuses[0]?.kind).toBe("connected");
      await server.stop();
      const ended = await handle.done;
      expect(isStateError(ended, "unavailable"), String(ended)).toBe(true);
      expect(statuses.map((status) => status.kind)).toEqual([
        "connected",
        "reconnecting",
        "reconnecting",
        "gave_up",
      ]);
      await context.close();
    } finally {
      await server.stop();
    }
  }, 60_000);
});
