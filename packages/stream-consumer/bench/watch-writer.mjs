// The writer process of watch.bench.mjs: on each IPC message it sets the variable `clock` to
// the monotonic time (process.hrtime, the same clock in every process of the machine) read
// just before the call, so that the watcher process can tell how long the change took to
// reach it. The set is a plain gRPC call on one HTTP/2 connection, as BridgedState makes it
// (its direct unary caller), so that the figure is the watch path's and not a connect
// client's per-call pipeline (≈ 0.4 ms of the writer's CPU per call here). The request is
// framed by grpc-wire's envelope writer, the one the direct paths use.
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@statebridge/grpc-wire";
import { SetVariableRequestSchema } from "@statebridge/proto";

const [url, sessionId] = process.argv.slice(2);
const session = http2.connect(url);
const headers = {
  ":method": "POST",
  ":path": "/statebridge.v1.BridgeService/SetVariable",
  "content-type": "application/grpc",
  te: "trailers",
};
process.on("message", (message) => {
  if (message === "stop") process.exit(0);
  const value = { kind: { case: "stringValue", value: String(process.hrtime.bigint()) } };
  const bytes = toBinary(
    SetVariableRequestSchema,
    create(SetVariableRequestSchema, { sessionId, identifier: "clock", value }),
  );
  const framed = encodeEnvelope(bytes);
  const stream = session.request(headers);
  stream.on("response", () => {});
  stream.on("trailers", (trailers) => {
    if (trailers["grpc-status"] !== "0") throw new Error(`set failed: ${JSON.stringify(trailers)}`);
  });
  stream.on("data", () => {});
  stream.on("end", () => process.send?.("done"));
  stream.end(framed);
});
process.send?.("ready");
