import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "@statebridge/bridge-server";
import { BridgeService } from "@statebridge/proto";

/** An in-process bridge-server on a free port, with clients that are closed with it. */
export interface TestBridge {
  readonly server: BridgeServer;
  /** A client on a connection of its own (to `baseUrl`, default the server's). */
  client(baseUrl?: string): Client<typeof BridgeService>;
  /** Closes the clients' connections, then the server. */
  close(): Promise<void>;
}

export async function startBridge(options: BridgeServerOptions = {}): Promise<TestBridge> {
  const server = await createBridgeServer({ port: 0, shutdownGraceMs: 200, ...options });
  const sessionManagers: Http2SessionManager[] = [];
  return {
    server,
    client(baseUrl = server.url) {
      const sessionManager = new Http2SessionManager(baseUrl, {
        pingIntervalMs: 1_000,
        pingTimeoutMs: 1_000,
      });
      sessionManagers.push(sessionManager);
      return createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager }));
    },
    async close() {
      for (const sessionManager of sessionManagers) sessionManager.abort();
      await server.close();
    },
  };
}

/** A fresh session with integer variables `names`, each at 0. */
export async function createSession(
  server: BridgeServer,
  sessionId: string,
  names: readonly string[],
): Promise<void> {
  await server.store.initializeSession(sessionId);
  for (const name of names) await server.store.register(sessionId, name, "integer", 0);
}
