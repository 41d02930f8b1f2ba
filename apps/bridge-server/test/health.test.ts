import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@statebridge/proto";
import { describe, expect, it } from "vitest";
import { startTestServer } from "./support.js";
import { failureOf } from "./support-values.js";

describe("grpc.health.v1.Health", () => {
  it("Check answers SERVING for the server and for statebridge.v1.BridgeService", async () => {
    const test = await startTestServer();
    try {
      const health = test.health();
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
      expect((await health.check({ service: "statebridge.v1.BridgeService" })).status).toBe(
        ServingStatus.SERVING,
      );
    } finally {
      await test.close();
    }
  });

  it("Check answers NOT_FOUND for a service it does not serve", async () => {
    const test = await startTestServer();
    try {
      const failure = await failureOf(test.health().check({ service: "other.v1.Service" }));
      expect(failure.error.code).toBe(Code.NotFound);
    } finally {
      await test.close();
    }
  });

  it("Watch sends SERVING, then NOT_SERVING when shutdown begins, and ends cleanly", async () => {
    const test = await startTestServer();
    const statuses: ServingStatus[] = [];
    const watching = (async () => {
      for await (const message of test.health().watch({ service: "" })) {
        statuses.push(message.status);
        if (statuses.length === 1) void test.server.close();
      }
    })();
    await watching;
    await test.close();
    expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });
});
