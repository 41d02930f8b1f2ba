import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { BACKEND_SWITCH_CHANNEL, type BackendSwitchMessage } from "@statebridge/state-provider";
import { recordOperations } from "@statebridge/state-provider/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContext } from "../src/index.js";
import { type BridgeProcess, startBridgeProcess } from "./bridge-process.js";

let server: BridgeProcess;

beforeAll(async () => {
  server = await startBridgeProcess();
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

/** Records the messages of the backend-switch channel until `stop()`. */
function recordSwitches(): { readonly messages: BackendSwitchMessage[]; stop(): void } {
  const messages: BackendSwitchMessage[] = [];
  const listener = (message: unknown) => messages.push(message as BackendSwitchMessage);
  subscribe(BACKEND_SWITCH_CHANNEL, listener);
  return { messages, stop: () => unsubscribe(BACKEND_SWITCH_CHANNEL, listener) };
}

describe("Context telemetry", () => {
  it(`a switch to the bridge publishes one ${BACKEND_SWITCH_CHANNEL} message, and operations name the backend they ran on`, async () => {
    const context = await createContext({ bridge: { url: server.url } });
    const switches = recordSwitches();
    const operations = recordOperations();
    try {
      await context.register("a", "integer", 1);
      await context.register("b", "string", "x");
      await context.watch(["a"], () => undefined);
      await context.ensureBridged("telemetry test");
      await context.set("a", 2);
    } finally {
      switches.stop();
      operations.stop();
      await context.close();
    }
    expect(switches.messages).toEqual([
      {
        sessionId: context.sessionId,
        from: "local",
        to: "bridged",
        variables: 2,
        watchers: 1,
        durationMs: expect.any(Number),
        outcome: "ok",
        errorCode: undefined,
        step: undefined,
        reason: "telemetry test",
      },
    ]);
    const byContext = operations.asyncEnd.filter(
      (event) => event.operation === "register" || event.operation === "set",
    );
    expect(byContext.map((event) => [event.operation, event.provider])).toEqual([
      ["register", "local"],
      ["register", "local"],
      ["set", "bridged"],
    ]);
    // The switch's own steps are operations too: the local export and the bridged import.
    expect(operations.asyncEnd.map((event) => `${event.provider}:${event.operation}`)).toEqual(
      expect.arrayContaining(["local:export", "bridged:import", "local:close"]),
    );
  });

  it("a switch that cannot reach the bridge publishes outcome error with the failed step and its code", async () => {
    const unreachable = await startBridgeProcess();
    await unreachable.stop();
    const context = await createContext({
      bridge: {
        url: unreachable.url,
        options: { deadlineMs: 500, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
      },
    });
    await context.register("a", "integer", 1);
    const switches = recordSwitches();
    try {
      await expect(context.ensureBridged("unreachable")).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      switches.stop();
      await context.close();
    }
    expect(switches.messages).toEqual([
      expect.objectContaining({
        sessionId: context.sessionId,
        from: "local",
        to: "bridged",
        variables: 1,
        outcome: "error",
        errorCode: "unavailable",
        step: "connect",
        reason: "unreachable",
      }),
    ]);
  }, 20_000);

  it("a switch publishes nothing once the subscriber is gone", async () => {
    const context = await createContext({ bridge: { url: server.url } });
    const switches = recordSwitches();
    switches.stop();
    try {
      await context.register("a", "integer", 1);
      await context.ensureBridged();
      expect(context.backend).toBe("bridged");
    } finally {
      await context.close();
    }
    expect(switches.messages).toEqual([]);
  });
});
