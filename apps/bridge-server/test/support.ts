import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { BridgeService, Health } from "@statebridge/proto";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "../src/index.js";

/** The protocols and HTTP versions a client may reach the server with. */
export type ProtocolName = "grpc" | "connect-h2" | "grpc-web-h2" | "connect-h1" | "grpc-web-h1";

/** A server started for a test, with clients that are closed with it. */
export interface TestServer {
  readonly server: BridgeServer;
  /** A BridgeService client over `protocol` (default gRPC). */
  client(protocol?: ProtocolName, interceptors?: Interceptor[]): Client<typeof BridgeService>;
  /** A Health client over gRPC. */
  health(): Client<typeof Health>;
  /** Closes every client session, then the server. */
  close(): Promise<void>;
}

/** Starts a server on a free loopback port. */
export async function startTestServer(options: BridgeServerOptions = {}): Promise<TestServer> {
  const server = await createBridgeServer({ host: "127.0.0.1", port: 0, ...options });
  const sessionManagers: Http2SessionManager[] = [];
  const transport = (protocol: ProtocolName, interceptors: Interceptor[]): Transport => {
    const baseUrl = server.url;
    if (protocol === "connect-h1")
      return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
    if (protocol === "grpc-web-h1")
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
    const sessionManager = new Http2SessionManager(baseUrl);
    sessionManagers.push(sessionManager);
    if (protocol === "grpc") return createGrpcTransport({ baseUrl, sessionManager, interceptors });
    if (protocol === "connect-h2") {
      return createConnectTransport({ baseUrl, httpVersion: "2", sessionManager, interceptors });
    }
    return createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager, interceptors });
  };
  return {
    server,
    client: (protocol = "grpc", interceptors = []) =>
      createClient(BridgeService, transport(protocol, interceptors)),
    health: () => createClient(Health, transport("grpc", [])),
    async close() {
      for (const manager of sessionManagers) manager.abort();
      await server.close();
    },
  };
}

/** An interceptor that sends `authorization: Bearer <token>`. */
export function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
