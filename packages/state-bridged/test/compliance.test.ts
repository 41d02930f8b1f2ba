// The StateProvider compliance suite against BridgedState, talking over a real socket to a
// bridge-server that runs as a separate process. Every test gets a fresh session, removed
// from the server afterwards.
import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import { describeStateProvider } from "@statebridge/state-provider/testing";
import { afterAll, beforeAll } from "vitest";
import { createBridgedState } from "../src/index.js";
import { type BridgeTransport, createBridgeTransport } from "../src/transport.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

let server: ServerProcess;
let administration: BridgeTransport;

beforeAll(async () => {
  server = await startServerProcess();
  administration = createBridgeTransport({ url: server.url });
}, 30_000);

afterAll(async () => {
  administration?.close();
  await server?.stop();
});

describeStateProvider("BridgedState", () => createBridgedState({ url: server.url }), {
  makeSecond: (first) => createBridgedState({ url: server.url, sessionId: first.sessionId }),
  cleanup: async (provider) => {
    await createClient(BridgeService, administration.transport).cleanupSession({
      sessionId: provider.sessionId,
    });
  },
});
