import { createBridgedState } from "@statebridge/state-bridged";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContext } from "../src/index.js";
import { type BridgeProcess, startBridgeProcess, startCuttingProxy } from "./bridge-process.js";

// Regression (issue 10, item 1): a watch moved onto the bridge follows the variables it
// started with on LocalState; a reconnect after the move must not make it follow a variable
// registered later under a watched name.

let server: BridgeProcess;

beforeAll(async () => {
  server = await startBridgeProcess(["--heartbeat-interval-ms", "50"]);
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(["multiplexed", "per-watch"] as const)(
  "a Context watch moved to the bridge (%s streams)",
  (streams) => {
    it("reconnecting while its variable is deleted and registered again under the name, it gets the deletion and nothing of the new variable", async () => {
      const proxy = await startCuttingProxy(server.port);
      const context = await createContext({
        bridge: {
          url: proxy.url,
          options: {
            watch: { streams, heartbeatIntervalMs: 50, reconnect: { baseDelayMs: 10, maxDelayMs: 50 } },
          },
        },
      });
      const writer = await createBridgedState({ url: server.url, sessionId: context.sessionId });
      try {
        const old = await context.register("x", "integer", 0);
        await context.register("y", "integer", 0);
        const seen: WatchEvent[] = [];
        await context.watch(["x", "y"], (event) => void seen.push(event));
        await context.ensureBridged();
        await context.set("x", 1);
        await waitFor(() => seen.length === 1, "the change of x");

        // No connection gets through until the writes are done: the watch must resume after them.
        proxy.cutAfterClientBytes(0);
        proxy.cutAll();
        await writer.delete("x");
        const reborn = await writer.register("x", "integer", 100);
        await writer.set("x", 101);
        await writer.set("y", 1);
        proxy.cutAfterClientBytes(undefined);
        await waitFor(() => seen.some((event) => event.name === "y"), "the change of y after the reconnect");
        await writer.set("x", 102);
        await writer.set("y", 2);
        await waitFor(() => seen.some((event) => event.newValue === 2), "the next change of y");

        expect(
          seen.map((event) => [event.type, event.identifier, event.id === old.id, event.newValue]),
        ).toEqual([
          ["value_change", "x", true, 1],
          ["deleted", "x", true, undefined],
          ["value_change", "y", false, 1],
          ["value_change", "y", false, 2],
        ]);
        expect(seen.some((event) => event.id === reborn.id)).toBe(false);
      } finally {
        await writer.close();
        await context.close();
        await proxy.close();
      }
    }, 30_000);
  },
);

describe("a Context watch of a deleted variable", () => {
  it("named by name and by id and deleted before the move: the switch succeeds, and the watch gets nothing more", async () => {
    const context = await createContext({ bridge: { url: server.url } });
    try {
      const x = await context.register("x", "integer", 0);
      await context.register("y", "integer", 0);
      const seen: WatchEvent[] = [];
      const others: WatchEvent[] = [];
      await context.watch(["x", x.id], (event) => void seen.push(event));
      await context.watch(["y"], (event) => void others.push(event));
      await context.delete("x");
      await context.ensureBridged();
      expect(context.backend).toBe("bridged");
      await context.register("x", "integer", 100);
      await context.set("x", 101);
      await context.set("y", 1);
      await waitFor(() => others.length === 1, "the change of y on the bridge");
      expect(seen.map((event) => [event.type, event.id])).toEqual([["deleted", x.id]]);
    } finally {
      await context.close();
    }
  });
});
