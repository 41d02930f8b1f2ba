// Connections that never become calls are closed: a socket silent after connecting, one that
// stops after the HTTP/2 preface or halfway through HTTP/1.1 headers, and one left idle after
// its calls. Regression: 22,500 silent sockets exhausted the server's file descriptors and new
// clients got `unavailable`.
import * as http2 from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/cli-options.js";
import { expectIdleConnectionClosed, initializeWithX, useTestConnections } from "./support-connections.js";

const SHORT_MS = 150;

const connections = useTestConnections();
const start = connections.start;
const connect = connections.connectTcp;

function grpcClient(url: string) {
  const sessionManager = connections.sessionManager(url);
  return createClient(BridgeService, createGrpcTransport({ baseUrl: url, sessionManager }));
}

describe("the headers timeout", () => {
  it("closes a connection that sends nothing", async () => {
    const { url } = await start({ headersTimeoutMs: SHORT_MS });
    const { closed } = await connect(url);
    await closed;
    expect(connections.server?.openStreams()).toBe(0);
  });

  it("closes a connection that sends the HTTP/2 preface and settings but no request", async () => {
    const { url } = await start({ headersTimeoutMs: SHORT_MS });
    const session = http2.connect(url);
    session.on("error", () => {});
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
    await closed;
  });

  it("closes a connection that stops halfway through HTTP/1.1 headers", async () => {
    const { url } = await start({ headersTimeoutMs: SHORT_MS });
    const { socket, closed } = await connect(url);
    socket.write("POST /statebridge.v1.BridgeService/Ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty");
    await closed;
  });

  it("leaves a connection that sent its request alone", async () => {
    const { url } = await start({ headersTimeoutMs: SHORT_MS, idleTimeoutMs: 60_000 });
    const client = grpcClient(url);
    expect((await client.ping({ message: "one" })).message).toBe("one");
    await new Promise((resolve) => setTimeout(resolve, SHORT_MS * 3));
    expect((await client.ping({ message: "two" })).message).toBe("two");
    expect(connections.server?.openStreams()).toBe(0);
  });
});

describe("the idle timeout", () => {
  it("closes an HTTP/2 connection once no stream has been open for the timeout", async () => {
    const { url } = await start({ idleTimeoutMs: SHORT_MS });
    await expectIdleConnectionClosed(url);
  });

  it("never closes a connection while a watch stream is open on it", async () => {
    const { url } = await start({ idleTimeoutMs: SHORT_MS, heartbeatIntervalMs: 60_000 });
    const client = grpcClient(url);
    const sessionId = "idle-watch";
    await initializeWithX(client, sessionId);
    const abort = new AbortController();
    const iterator = client
      .watchVariables({ sessionId, identifiers: ["x"] }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, SHORT_MS * 4));
    await client.setVariable({
      sessionId,
      identifier: "x",
      value: { kind: { case: "integerValue", value: 2n } },
    });
    const next = await iterator.next();
    expect(next.done).toBe(false);
    abort.abort();
  });
});

describe("the connection limit", () => {
  it("closes a new connection at once past --max-connections while existing clients are answered", async () => {
    const { url } = await start({ maxConnections: 3, headersTimeoutMs: 60_000 });
    const client = grpcClient(url);
    expect((await client.ping({ message: "before" })).message).toBe("before");
    await connect(url);
    await connect(url);
    const refused = await connect(url).catch(() => undefined);
    // Accepted by the kernel, then closed by the server without a byte.
    if (refused !== undefined) await refused.closed;
    expect((await client.ping({ message: "after" })).message).toBe("after");
  });
});

describe("the command line", () => {
  it("passes --headers-timeout-ms, --idle-timeout-ms, --max-connections and repeated --allowed-host on", () => {
    const commandLine = parseCommandLine(
      [
        "--headers-timeout-ms",
        "2500",
        "--idle-timeout-ms",
        "60000",
        "--max-connections",
        "500",
        "--allowed-host",
        "a.example",
        "--allowed-host",
        ".b.example",
      ],
      {},
    );
    expect(commandLine).toMatchObject({
      kind: "serve",
      options: {
        headersTimeoutMs: 2500,
        idleTimeoutMs: 60000,
        maxConnections: 500,
        allowedHosts: ["a.example", ".b.example"],
      },
    });
    const fromEnvironment = parseCommandLine([], { STATEBRIDGE_ALLOWED_HOSTS: "a.example, b.example" });
    expect(fromEnvironment).toMatchObject({ options: { allowedHosts: ["a.example", "b.example"] } });
    expect(() => parseCommandLine(["--max-connections", "0"], {})).toThrow(/--max-connections/);
  });
});
