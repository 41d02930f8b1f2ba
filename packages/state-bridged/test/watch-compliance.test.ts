import {
  createComplianceContext,
  describeDistribution,
  describeLifecycle,
  describeWatch,
} from "@statebridge/state-provider/testing";
import { afterAll, beforeAll, describe } from "vitest";
import { createBridgedState } from "../src/index.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

// The watch parts of the compliance suite (watching, and the lifecycle and distribution
// tests that involve watches) against a bridge-server running as its own process.
let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

const context = createComplianceContext("BridgedState", () => createBridgedState({ url: server.url }), {
  makeSecond: (first) => createBridgedState({ url: server.url, sessionId: first.sessionId }),
});

describe("BridgedState watching (compliance)", { timeout: context.timeoutMs }, () => {
  describeWatch(context);
  describeLifecycle(context);
  describeDistribution(context);
});
