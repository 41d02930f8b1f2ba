import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** Options of {@link createBridgeTransport}. */
export interface BridgeTransportOptions {
  /** The server's address, such as `http://127.0.0.1:50051`. */
  readonly baseUrl: string;
  /**
   * HTTP/2 PING interval while streams are open, in milliseconds. Connect sends none by
   * default, so a watch over a connection that died without a FIN would otherwise only be
   * noticed by missed heartbeats. Default 10,000.
   */
  readonly pingIntervalMs?: number;
  /** A PING unanswered for this long closes the connection and its streams. Default 5,000. */
  readonly pingTimeoutMs?: number;
  /** An idle connection closes after this long, in milliseconds. Default 60,000. */
  readonly idleConnectionTimeoutMs?: number;
  /** Interceptors of every call, such as one adding a bearer token. */
  readonly interceptors?: readonly Interceptor[];
}

/** A gRPC transport over one HTTP/2 connection that its owner can close. */
export interface BridgeTransport {
  readonly transport: Transport;
  /**
   * Closes the connection and every stream on it. Needed so that an in-process server's
   * `close()` does not wait on the client's idle session.
   */
  close(): void;
}

/**
 * Creates the transport statebridge clients use: gRPC over HTTP/2 cleartext (what Python's
 * grpcio speaks too), with keepalive PINGs on, so that long-lived watch streams notice a dead
 * connection. One transport per process and server is enough: every call and every watch
 * stream shares its one connection.
 */
export function createBridgeTransport(options: BridgeTransportOptions): BridgeTransport {
  const sessionManager = new Http2SessionManager(options.baseUrl, {
    pingIntervalMs: options.pingIntervalMs ?? 10_000,
    pingTimeoutMs: options.pingTimeoutMs ?? 5_000,
    idleConnectionTimeoutMs: options.idleConnectionTimeoutMs ?? 60_000,
  });
  const transport = createGrpcTransport({
    baseUrl: options.baseUrl,
    sessionManager,
    interceptors: [...(options.interceptors ?? [])],
  });
  return {
    transport,
    close() {
      sessionManager.abort();
    },
  };
}
