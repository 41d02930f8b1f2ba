import * as http2 from "node:http2";
import * as net from "node:net";
import type { Client } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import type { BridgeService } from "@statebridge/proto";
import { afterEach, expect } from "vitest";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "../src/index.js";

/** A raw TCP connection to a server, and a promise of its close. */
export interface RawConnection {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
}

/** What a test file opens — a server, HTTP/2 session managers, sockets — closed after each test. */
export interface TestConnections {
  /** The server the current test started, if it started one. */
  readonly server: BridgeServer | undefined;
  /** Starts a server on a free loopback port (with a short shutdown grace), closed after the test. */
  start(options: BridgeServerOptions): Promise<BridgeServer>;
  /** A session manager for `url` (with `tls`, for https:// URLs), aborted after the test. */
  sessionManager(url: string, tls?: http2.SecureClientSessionOptions): Http2SessionManager;
  /** Keeps `socket` to be destroyed after the test. */
  track<Socket extends net.Socket>(socket: Socket): Socket;
  /** Opens a raw TCP connection to the server at `url`; it is read and its errors are ignored. */
  connectTcp(url: string): Promise<RawConnection>;
}

/** Registers, in the calling test file, the cleanup of what its tests open through the result. */
export function useTestConnections(): TestConnections {
  let server: BridgeServer | undefined;
  const managers: Http2SessionManager[] = [];
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const manager of managers.splice(0)) manager.abort();
    await server?.close();
    server = undefined;
  });
  const connections: TestConnections = {
    get server() {
      return server;
    },
    async start(options) {
      server = await createBridgeServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 100, ...options });
      return server;
    },
    sessionManager(url, tls) {
      const manager = new Http2SessionManager(url, {}, tls);
      managers.push(manager);
      return manager;
    },
    track(socket) {
      sockets.push(socket);
      return socket;
    },
    async connectTcp(url) {
      const { hostname, port } = new URL(url);
      const socket = connections.track(net.connect(Number(port), hostname));
      socket.on("error", () => {});
      socket.resume();
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      return { socket, closed };
    },
  };
  return connections;
}

/**
 * Makes one HTTP/2 request (answered 404) to the server at `url`, then expects the server to
 * send GOAWAY and close the connection once it has been idle: the idle timeout's contract.
 */
export async function expectIdleConnectionClosed(
  url: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<void> {
  const session = http2.connect(url, options);
  session.on("error", () => {});
  const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
  const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
  const request = session.request({ ":method": "GET", ":path": "/no-such-path" });
  const status = await new Promise<unknown>((resolve) =>
    request.once("response", (headers) => resolve(headers[":status"])),
  );
  expect(status).toBe(404);
  request.resume();
  await goaway;
  await closed;
}

/** Initializes session `sessionId` and registers in it the integer `x` = 1. */
export async function initializeWithX(
  client: Client<typeof BridgeService>,
  sessionId: string,
): Promise<void> {
  await client.initializeSession({ sessionId });
  await client.registerVariable({
    sessionId,
    name: "x",
    type: "integer",
    initialValue: { kind: { case: "integerValue", value: 1n } },
  });
}
