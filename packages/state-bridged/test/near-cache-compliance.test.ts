// The StateProvider compliance suite against BridgedState with its near cache on
// (`cache: true`), over a real socket to a bridge-server in a separate process. The suite
// checks the weaker read guarantees the provider declares (linearizableReads: false): a
// second provider's writes become visible within a bounded wait, while a provider's own writes
// and the order of its reads are asserted strictly.
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

describeStateProvider(
  "BridgedState (cache: true)",
  () => createBridgedState({ url: server.url, cache: true }),
  {
    makeSecond: (first) => createBridgedState({ url: server.url, sessionId: first.sessionId, cache: true }),
    cleanup: async (provider) => {
      await createClient(BridgeService, administration.transport).cleanupSession({
        sessionId: provider.sessionId,
      });
    },
  },
);
