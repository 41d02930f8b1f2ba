import { spawn } from "node:child_process";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService, PingRequestSchema, PingResponseSchema } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcUnaryCaller } from "./unary-caller.js";

function envelope(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.byteLength);
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, 5);
  return framed;
}

/**
 * A gRPC peer that answers each Ping after the number of milliseconds its message names,
 * echoing the message, and counts the connections it was called on.
 */
async function startDelayingServer(): Promise<{
  url: string;
  sessions: Set<http2.ServerHttp2Session>;
  close(): Promise<void>;
}> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("stream", (stream) => {
    sessions.add(stream.session as http2.ServerHttp2Session);
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const request = fromBinary(PingRequestSchema, Buffer.concat(chunks).subarray(5));
      setTimeout(() => {
        if (stream.closed) return;
        stream.respond(
          { ":status": 200, "content-type": "application/grpc+proto" },
          { waitForTrailers: true },
        );
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(
          envelope(toBinary(PingResponseSchema, create(PingResponseSchema, { message: request.message }))),
        );
      }, Number(request.message));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("unary calls on the session manager's open connection", () => {
  let peer: Awaited<ReturnType<typeof startDelayingServer>>;
  beforeAll(async () => {
    peer = await startDelayingServer();
  });
  afterAll(async () => {
    await peer.close();
  });

  const options = () => ({ timeoutMs: 10_000, signal: new AbortController().signal });

  it("calls made while others are in flight share their connection, and answer in any order", async () => {
    const manager = new Http2SessionManager(peer.url);
    try {
      peer.sessions.clear();
      const call = createGrpcUnaryCaller({ sessionManager: manager });
      const first = call(BridgeService.method.ping, { message: "150" }, options());
      await new Promise((resolve) => setTimeout(resolve, 50));
      const later = ["60", "0", "30"].map((delay) =>
        call(BridgeService.method.ping, { message: delay }, options()),
      );
      const answers = await Promise.all([first, ...later]);
      expect(answers.map((answer) => answer.message)).toEqual(["150", "60", "0", "30"]);
      expect(peer.sessions.size).toBe(1);
    } finally {
      manager.abort();
    }
  });

  it("after the connection closed, the next calls open a new one", async () => {
    const manager = new Http2SessionManager(peer.url);
    try {
      peer.sessions.clear();
      const call = createGrpcUnaryCaller({ sessionManager: manager });
      const held = call(BridgeService.method.ping, { message: "100" }, options());
      await new Promise((resolve) => setTimeout(resolve, 30));
      await call(BridgeService.method.ping, { message: "0" }, options());
      await held;
      for (const session of peer.sessions) session.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const again = await Promise.all(
        ["20", "0"].map((delay) => call(BridgeService.method.ping, { message: delay }, options())),
      );
      expect(again.map((answer) => answer.message)).toEqual(["20", "0"]);
      expect(peer.sessions.size).toBe(2);
    } finally {
      manager.abort();
    }
  });

  // Regression: a call opened directly on the connection, still in flight after the calls the
  // manager opened had closed (the manager unrefs its connection then), let the process exit
  // before its answer came.
  it("a process awaiting a call stays alive until it is answered, then exits on its own", async () => {
    const caller = new URL("../dist/unary-caller.js", import.meta.url).href;
    const script = `
      const { Http2SessionManager } = await import("@connectrpc/connect-node");
      const { BridgeService } = await import("@statebridge/proto");
      const { createGrpcUnaryCaller } = await import(${JSON.stringify(caller)});
      const call = createGrpcUnaryCaller({ sessionManager: new Http2SessionManager(${JSON.stringify(peer.url)}) });
      const options = { timeoutMs: 10_000, signal: new AbortController().signal };
      call(BridgeService.method.ping, { message: "100" }, options).then((answer) => console.log("first", answer.message));
      await new Promise((resolve) => setTimeout(resolve, 40));
      call(BridgeService.method.ping, { message: "400" }, options).then((answer) => console.log("second", answer.message));
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: new URL("..", import.meta.url),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
    });
    const exitCode = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.once("exit", (code) => {
        clearTimeout(killer);
        resolve(code);
      });
    });
    expect(output).toBe("first 100\nsecond 400\n");
    expect(exitCode).toBe(0);
  });
});
