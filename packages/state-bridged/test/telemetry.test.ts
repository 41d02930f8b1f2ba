import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import type { StateProvider } from "@statebridge/state-provider";
import { describeOperationTelemetry, recordOperations } from "@statebridge/state-provider/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBridgedState } from "../src/index.js";
import { createBridgeTransport } from "../src/transport.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

let server: ServerProcess;
const opened: StateProvider[] = [];

async function open(sessionId?: string): Promise<StateProvider> {
  const provider = await createBridgedState({
    url: server.url,
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  opened.push(provider);
  return provider;
}

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((provider) => provider.close()));
});

afterAll(async () => {
  await server?.stop();
});

describeOperationTelemetry("BridgedState", "bridged", () => open());

describe("BridgedState telemetry", () => {
  it("a call on a session deleted by another client publishes outcome error with session_expired", async () => {
    const provider = await open();
    await provider.register("gone", "integer", 1);
    const transport = createBridgeTransport({ url: server.url });
    try {
      await createClient(BridgeService, transport.transport).cleanupSession({
        sessionId: provider.sessionId,
      });
    } finally {
      transport.close();
    }
    const recorder = recordOperations();
    try {
      await expect(provider.get("gone")).rejects.toMatchObject({ code: "session_expired" });
    } finally {
      recorder.stop();
    }
    expect(recorder.asyncEnd).toEqual([
      expect.objectContaining({
        provider: "bridged",
        operation: "get",
        sessionId: provider.sessionId,
        outcome: "error",
        errorCode: "session_expired",
      }),
    ]);
  });

  // Regression: updateMany read back the version of a `__proto__` identifier through the
  // public getVariable(), which published a second, nested operation event.
  it("an updateMany that reads a version back is still one operation event", async () => {
    const provider = await open();
    await provider.register("__proto__", "integer", 1);
    const recorder = recordOperations();
    try {
      const result = await provider.updateMany(new Map([["__proto__", 2]]));
      expect(result.versions.get("__proto__")).toBe(1);
    } finally {
      recorder.stop();
    }
    expect(recorder.asyncEnd.map((event) => [event.operation, event.outcome])).toEqual([
      ["updateMany", "ok"],
    ]);
  });

  it("a read retried while the server is unreachable is one operation event, with unavailable", async () => {
    const lone = await startServerProcess();
    const unreachable = await createBridgedState({
      url: lone.url,
      deadlineMs: 2_000,
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
    });
    opened.push(unreachable);
    await lone.stop();
    const recorder = recordOperations();
    try {
      await expect(unreachable.get("anything")).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      recorder.stop();
    }
    expect(recorder.asyncEnd.map((event) => [event.operation, event.errorCode])).toEqual([
      ["get", "unavailable"],
    ]);
    expect(recorder.start).toHaveLength(1);
  }, 20_000);
});
