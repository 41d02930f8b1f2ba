// The ways a client can reach a bridge-server, for tests that must hold on every path: the
// server's direct gRPC path (plain binary gRPC over HTTP/2), connect's gRPC path (taken by any
// compressed request), Connect with JSON and binary over HTTP/1.1 and HTTP/2, and gRPC-Web.
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

/** One way of reaching the server. */
export interface WirePath {
  /** A short name for test titles, such as `grpc direct` or `connect json http/1.1`. */
  readonly name: string;
  /** Whether requests on this path are served by the server's direct gRPC path. */
  readonly direct: boolean;
  /** A transport on this path to `baseUrl`, sending `token` as a bearer token when given. */
  createTransport(baseUrl: string, token?: string): Transport;
}

function bearer(token: string | undefined): Interceptor[] {
  if (token === undefined) return [];
  return [
    (next) => (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return next(request);
    },
  ];
}

/** Every path, the direct one first. */
export const WIRE_PATHS: readonly WirePath[] = Object.freeze([
  {
    name: "grpc direct",
    direct: true,
    createTransport: (baseUrl: string, token?: string) =>
      createGrpcTransport({ baseUrl, interceptors: bearer(token) }),
  },
  {
    name: "grpc gzip (connect)",
    direct: false,
    createTransport: (baseUrl: string, token?: string) =>
      createGrpcTransport({
        baseUrl,
        interceptors: bearer(token),
        sendCompression: compressionGzip,
        compressMinBytes: 0,
      }),
  },
  {
    name: "connect json http/1.1",
    direct: false,
    createTransport: (baseUrl: string, token?: string) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: bearer(token) }),
  },
  {
    name: "connect proto http/2 gzip",
    direct: false,
    createTransport: (baseUrl: string, token?: string) =>
      createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: bearer(token),
        sendCompression: compressionGzip,
        compressMinBytes: 0,
      }),
  },
  {
    name: "connect json http/2",
    direct: false,
    createTransport: (baseUrl: string, token?: string) =>
      createConnectTransport({ baseUrl, httpVersion: "2", interceptors: bearer(token) }),
  },
  {
    name: "grpc-web http/1.1",
    direct: false,
    createTransport: (baseUrl: string, token?: string) =>
      createGrpcWebTransport({
        baseUrl,
        httpVersion: "1.1",
        useBinaryFormat: true,
        interceptors: bearer(token),
      }),
  },
]);
