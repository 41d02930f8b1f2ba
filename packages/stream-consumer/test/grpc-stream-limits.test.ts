import type { ConnectError } from "@connectrpc/connect";
import { BridgeService, WatchStreamResponseSchema } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { type GrpcConnection, openGrpcStream, stateErrorFromConnectError } from "../src/index.js";
import { type RawServer, startRawServer } from "./support/raw-server.js";

let raw: RawServer | undefined;

afterEach(async () => {
  await raw?.close();
  raw = undefined;
});

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const WATCH_STREAM_PATH = `/${BridgeService.typeName}/WatchStream`;

function open(connection: GrpcConnection): Promise<ConnectError | undefined> {
  return new Promise((resolve) => {
    const call = openGrpcStream(connection, WATCH_STREAM_PATH, WatchStreamResponseSchema, {
      onMessage() {},
      onEnd: resolve,
    });
    call.end();
  });
}

describe("openGrpcStream with a connection's limits", () => {
  // Regression: the stream buffered whatever the server sent, however large.
  it("a message over maxReceiveBytes ends the call with RESOURCE_EXHAUSTED from its header, before its body", async () => {
    raw = await startRawServer((stream) => {
      stream.respond(GRPC_HEADERS);
      // The header of a 1 GiB message, and nothing more: the refusal cannot wait for the body.
      stream.write(Buffer.from([0, 0x40, 0, 0, 0]));
    });
    const error = await open({ sessionManager: raw.sessionManager, maxReceiveBytes: 1024 * 1024 });
    expect(error?.code).toBe(8);
    expect(error?.rawMessage).toBe(
      "a response message of 1073741824 bytes is larger than the maximum receive size of 1048576 bytes (maxReceiveBytes)",
    );
    const translated = stateErrorFromConnectError(error);
    expect(translated.code).toBe("resource_exhausted");
  });

  // Regression: streams opened directly dropped the path of the server's URL.
  it("opens the stream under the connection's path prefix", async () => {
    raw = await startRawServer((stream) => {
      stream.respond({ ...GRPC_HEADERS, "grpc-status": "0" }, { endStream: true });
    });
    expect(await open({ sessionManager: raw.sessionManager, pathPrefix: "/gateway" })).toBeUndefined();
    expect(raw.calls.map((call) => call.path)).toEqual([`/gateway${WATCH_STREAM_PATH}`]);
  });
});
