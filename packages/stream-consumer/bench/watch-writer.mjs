// The writer process of watch.bench.mjs: on each IPC message it sets the variable `clock` to
// the monotonic time (process.hrtime, the same clock in every process of the machine) read
// just before the call, so that the watcher process can tell how long the change took to
// reach it.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";

const [url, sessionId] = process.argv.slice(2);
const client = createClient(BridgeService, createGrpcTransport({ baseUrl: url }));
process.on("message", async (message) => {
  if (message === "stop") process.exit(0);
  const value = { kind: { case: "stringValue", value: String(process.hrtime.bigint()) } };
  await client.setVariable({ sessionId, identifier: "clock", value });
  process.send?.("done");
});
process.send?.("ready");
