import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { context, propagation, type TextMapSetter } from "@opentelemetry/api";
import { type GrpcConnection, settleVerifyOnClose } from "@statebridge/stream-consumer";
import { type BridgedTlsOptions, tlsSessionOptions } from "./tls-options.js";
import { createGrpcUnaryCaller, type UnaryCaller } from "./unary-caller.js";

/** Options of {@link createBridgeTransport}. */
export interface BridgeTransportOptions {
  /** The server's base URL, such as `http://127.0.0.1:50051`. */
  readonly url: string;
  /** Sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string;
  /** HTTP/2 PING interval that keeps long-lived watch streams verified. Default 15,000 ms. */
  readonly pingIntervalMs?: number;
  /** How long a PING may go unanswered before the connection is dropped. Default 10,000 ms. */
  readonly pingTimeoutMs?: number;
  /** The largest response message accepted, in bytes, on every path of the connection. Default: any. */
  readonly maxReceiveBytes?: number;
  /** CAs to trust and a client certificate, for an `https://` URL. */
  readonly tls?: BridgedTlsOptions;
}

/** A gRPC transport over one HTTP/2 connection, and the means to close that connection. */
export interface BridgeTransport {
  /** The connect transport, for streams (watches). */
  readonly transport: Transport;
  /** Unary calls on the same connection, without connect's per-call pipeline. */
  readonly unary: UnaryCaller;
  /** The same connection, on which watch streams are opened without connect's pipeline. */
  readonly connection: GrpcConnection;
  /** Closes the HTTP/2 connection and fails the calls still on it. Idempotent. */
  close(): void;
}

/**
 * Creates a gRPC transport (HTTP/2 cleartext or TLS, per the URL's scheme) on one connection
 * that this module owns, so that closing the provider leaves no socket behind, and a unary
 * caller on the same connection (see `createGrpcUnaryCaller`). HTTP/2 PINGs
 * run while streams are open: without them a server that vanished would leave a watch
 * hanging until the operating system notices, which can take hours.
 * @throws `invalid_value` for `tls` options that cannot be used (see `tlsSessionOptions`).
 */
export function createBridgeTransport(options: BridgeTransportOptions): BridgeTransport {
  const sessionManager = new Http2SessionManager(
    options.url,
    {
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      pingTimeoutMs: options.pingTimeoutMs ?? 10_000,
      // An idle connection needs no keepalive: the next call verifies it first.
      pingIdleConnection: false,
    },
    tlsSessionOptions(options.url, options.tls),
  );
  // connect-node 2.1 checks an idle connection before the next call; a clean close during that
  // check would leave it, and every later call, waiting for good.
  settleVerifyOnClose(sessionManager);
  // The caller's trace context (`traceparent`), when an OpenTelemetry propagator is registered.
  const interceptors: Interceptor[] = [propagateTraceContext];
  const { token } = options;
  if (token !== undefined) {
    interceptors.push((next) => async (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return await next(request);
    });
  }
  const { maxReceiveBytes } = options;
  const transport = createGrpcTransport({
    baseUrl: options.url,
    sessionManager,
    interceptors,
    ...(maxReceiveBytes === undefined ? {} : { readMaxBytes: maxReceiveBytes }),
  });
  // The direct paths keep the URL's path, as connect's transport does: a server behind a
  // path-routing proxy (`http://host/statebridge`) is reached there.
  const pathPrefix = pathPrefixOf(options.url);
  const connection: GrpcConnection = {
    sessionManager,
    extraHeaders: traceContextHeaders,
    ...(token === undefined ? {} : { token }),
    ...(pathPrefix === "" ? {} : { pathPrefix }),
    ...(maxReceiveBytes === undefined ? {} : { maxReceiveBytes }),
  };
  const unary = createGrpcUnaryCaller(connection);
  let closed = false;
  return {
    transport,
    unary,
    connection,
    close() {
      if (closed) return;
      closed = true;
      sessionManager.abort();
    },
  };
}

const HEADERS_SETTER: TextMapSetter<Headers> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** The active OpenTelemetry context as headers, for the watch streams opened on the connection. */
function traceContextHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

/**
 * Puts the active OpenTelemetry context into a call's headers (W3C `traceparent`, or whatever
 * propagator the application registered), so that the server's span joins the caller's trace.
 * With no propagator registered it does nothing.
 */
export const propagateTraceContext: Interceptor = (next) => (request) => {
  propagation.inject(context.active(), request.header, HEADERS_SETTER);
  return next(request);
};

/**
 * Normalizes a server address: a bare `host:port`, as the bridge-server prints or a user
 * types, becomes `http://host:port`; a URL with a scheme is kept.
 */
export function normalizeServerUrl(url: string): string {
  const trimmed = url.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  return withScheme.replace(/\/+$/, "");
}

/** The path of a server URL without its trailing slashes: `""` for `http://host:port`. */
export function pathPrefixOf(url: string): string {
  return new URL(url).pathname.replace(/\/+$/, "");
}
