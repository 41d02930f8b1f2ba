import type { IncomingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  encodeEnvelope,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import * as connect from "@connectrpc/connect/protocol-connect";
import * as grpc from "@connectrpc/connect/protocol-grpc";
import * as grpcWeb from "@connectrpc/connect/protocol-grpc-web";
import { BridgeService, Health, ServerReflectionV1, ServerReflectionV1alpha } from "@statebridge/proto";
import type { HostCheck, TokenCheck } from "./auth.js";
import { type Cors, isPreflight } from "./cors.js";

/** Options of {@link createCallGate}. */
export interface CallGateOptions {
  /** The bearer token check, when the server requires a token. */
  readonly checkToken?: TokenCheck;
  /** The `Host`/`:authority` check, when no token is required. */
  readonly checkHost?: HostCheck;
  /** The encodings connect's router offers: a refusal is encoded as connect would encode it. */
  readonly acceptCompression: readonly Compression[];
  /** Responses at least this large are compressed when the client accepts it. */
  readonly compressMinBytes: number;
  /**
   * The CORS policy, when browsers from other origins may call: their preflights pass without
   * a token (browsers send none), and refusals carry the CORS headers so that scripts read them.
   */
  readonly cors?: Cors;
}

/** What the gate needs of a request: its headers, HTTP/2 pseudo-headers or HTTP/1.1 ones. */
export interface GatedRequest {
  readonly method: string | undefined;
  readonly path: string | undefined;
  /** `:authority` (HTTP/2) or `Host` (HTTP/1.1). */
  readonly authority: string | undefined;
  /** The request's headers; the gate may rewrite `grpc-timeout` and `connect-timeout-ms`. */
  readonly headers: IncomingHttpHeaders;
}

/** A request the gate refused. */
export interface Refusal {
  /** The answer, in the request's own protocol. */
  readonly response: Promise<UniversalServerResponse>;
  /**
   * Whether the request is a single message (a unary call, or no known method), whose end may
   * be awaited before answering; a stream's client may keep its request open and is answered
   * at once.
   */
  readonly singleMessage: boolean;
}

/**
 * Decides from a request's headers alone, before any byte of its body is read, whether it may
 * go on to either wire path.
 * @returns `undefined` to let it through, else the refusal to answer with; the caller writes
 *   it and buffers none of the body.
 */
export type CallGate = (request: GatedRequest) => Refusal | undefined;

/** Node's timers hold at most 2^31−1 ms; a longer delay fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const HEALTH_PATH_PREFIX = `/${Health.typeName}/`;
/** The paths of the streaming methods: every other path carries one request message. */
const STREAMING_PATHS: ReadonlySet<string> = new Set(
  [BridgeService, ServerReflectionV1, ServerReflectionV1alpha].flatMap((service) =>
    service.methods
      .filter((method) => method.methodKind !== "unary")
      .map((method) => `/${service.typeName}/${method.name}`),
  ),
);
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const GRPC_TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};
const CONNECT_TIMEOUT = /^\d{1,10}$/;
const COMPRESSED_FLAG = 0b0000_0001;

/**
 * Creates the checks every request passes before the direct gRPC path or connect's handler
 * sees it, so that both apply them alike and neither reads a body first: the bearer token (all
 * but the health service), the `Host`/`:authority` when no token is required (a defence against
 * DNS rebinding), and deadlines beyond what a Node timer holds, which are dropped (24.8 days is
 * no deadline in practice; kept, they would fire at once and re-arm every millisecond). A CORS
 * preflight, when the server allows other origins, needs no token (the host check still applies).
 *
 * A refusal is written as connect writes the same error, with connect's own protocol helpers:
 * gRPC status trailers, a gRPC-Web trailer frame, a Connect end-stream message, or a Connect
 * unary JSON error with its HTTP status.
 */
export function createCallGate(options: CallGateOptions): CallGate {
  const { checkToken, checkHost } = options;
  return (request) => {
    clampTimeouts(request.headers);
    const path = request.path ?? "";
    if (path.startsWith(HEALTH_PATH_PREFIX)) return undefined;
    const procedure = procedureOf(path);
    let refusal: ConnectError | undefined;
    // A preflight runs nothing: the CORS policy answers it, and it has no token to show.
    const preflight = options.cors !== undefined && isPreflight(request.method, request.headers);
    if (checkToken !== undefined && !preflight) {
      const authorization = request.headers.authorization;
      refusal = checkToken(typeof authorization === "string" ? authorization : undefined, procedure);
    } else if (checkHost !== undefined) {
      refusal = checkHost(request.authority, procedure);
    }
    if (refusal === undefined) return undefined;
    const origin = request.headers.origin;
    const corsHeaders = preflight ? undefined : options.cors?.responseHeaders(origin);
    return {
      response: refusalResponse(request, refusal, options).then((response) => {
        if (corsHeaders === undefined) return response;
        const header = new Headers(response.header);
        for (const [name, value] of Object.entries(corsHeaders)) header.set(name, value);
        return { ...response, header };
      }),
      singleMessage: !STREAMING_PATHS.has(path),
    };
  };
}

/** Drops a `grpc-timeout` or `connect-timeout-ms` longer than a Node timer can hold. */
function clampTimeouts(headers: IncomingHttpHeaders): void {
  const grpcTimeout = headers["grpc-timeout"];
  if (typeof grpcTimeout === "string") {
    const match = GRPC_TIMEOUT.exec(grpcTimeout);
    if (match !== null && Number(match[1]) * (GRPC_TIMEOUT_UNIT_MS[match[2] as string] ?? 0) > MAX_TIMER_MS) {
      delete headers["grpc-timeout"];
    }
  }
  const connectTimeout = headers["connect-timeout-ms"];
  if (typeof connectTimeout === "string" && CONNECT_TIMEOUT.test(connectTimeout)) {
    if (Number(connectTimeout) > MAX_TIMER_MS) delete headers["connect-timeout-ms"];
  }
}

/** The method's name from `/package.Service/Method`, for log lines. */
function procedureOf(path: string): string {
  const end = path.indexOf("?");
  const trimmed = end === -1 ? path : path.slice(0, end);
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return typeof value === "string" ? value : null;
}

/** The response connect sends for `error`, in the protocol the request's content type names. */
async function refusalResponse(
  request: GatedRequest,
  error: ConnectError,
  options: CallGateOptions,
): Promise<UniversalServerResponse> {
  const contentType = header(request.headers, "content-type");
  const accept = options.acceptCompression as Compression[];
  const grpcType = grpc.parseContentType(contentType);
  if (grpcType !== undefined) {
    const compression = compressionNegotiate(
      accept,
      header(request.headers, "grpc-encoding"),
      header(request.headers, "grpc-accept-encoding"),
      grpc.headerAcceptEncoding,
    ).response;
    const responseHeader = new Headers({
      [grpc.headerContentType]: grpcType.binary ? grpc.contentTypeProto : grpc.contentTypeJson,
    });
    if (compression !== null) responseHeader.set(grpc.headerEncoding, compression.name);
    const trailer = grpc.setTrailerStatus(new Headers({ [grpc.headerGrpcStatus]: grpc.grpcStatusOk }), error);
    return { status: 200, header: responseHeader, body: createAsyncIterable([]), trailer };
  }
  const grpcWebType = grpcWeb.parseContentType(contentType);
  if (grpcWebType !== undefined && !grpcWebType.text) {
    const compression = compressionNegotiate(
      accept,
      header(request.headers, "grpc-encoding"),
      header(request.headers, "grpc-accept-encoding"),
      grpcWeb.headerAcceptEncoding,
    ).response;
    const responseHeader = new Headers({
      [grpcWeb.headerContentType]: grpcWebType.binary ? grpcWeb.contentTypeProto : grpcWeb.contentTypeJson,
    });
    if (compression !== null) responseHeader.set(grpcWeb.headerEncoding, compression.name);
    const trailer = grpc.setTrailerStatus(new Headers({ [grpc.headerGrpcStatus]: grpc.grpcStatusOk }), error);
    const frame = grpcWeb.createTrailerSerialization().serialize(trailer);
    return {
      status: 200,
      header: responseHeader,
      body: await envelopeBody(grpcWeb.trailerFlag, frame, compression, options.compressMinBytes),
    };
  }
  const connectType = connect.parseContentType(contentType);
  if (connectType?.stream === true) {
    const compression = compressionNegotiate(
      accept,
      header(request.headers, connect.headerStreamEncoding.toLowerCase()),
      header(request.headers, connect.headerStreamAcceptEncoding.toLowerCase()),
      connect.headerStreamAcceptEncoding,
    ).response;
    const responseHeader = new Headers({
      [connect.headerContentType]: connectType.binary
        ? connect.contentTypeStreamProto
        : connect.contentTypeStreamJson,
    });
    if (compression !== null) responseHeader.set(connect.headerStreamEncoding, compression.name);
    const frame = connect
      .createEndStreamSerialization(undefined)
      .serialize({ metadata: new Headers(), error });
    return {
      status: 200,
      header: responseHeader,
      body: await envelopeBody(connect.endStreamFlag, frame, compression, options.compressMinBytes),
    };
  }
  // Connect unary, and whatever names no protocol: a JSON error with its HTTP status.
  const compression = compressionNegotiate(
    accept,
    header(request.headers, "content-encoding"),
    header(request.headers, "accept-encoding"),
    connect.headerUnaryAcceptEncoding,
  ).response;
  return unaryErrorResponse(error, compression, options.compressMinBytes);
}

/** One envelope, compressed as connect's `transformCompressEnvelope` would. */
async function envelopeBody(
  flags: number,
  data: Uint8Array,
  compression: Compression | null,
  compressMinBytes: number,
): Promise<AsyncIterable<Uint8Array>> {
  if (compression !== null && data.byteLength >= compressMinBytes) {
    return createAsyncIterable([encodeEnvelope(flags | COMPRESSED_FLAG, await compression.compress(data))]);
  }
  return createAsyncIterable([encodeEnvelope(flags, data)]);
}

/** A Connect unary error: JSON body, the error's metadata as headers, its HTTP status. */
async function unaryErrorResponse(
  error: ConnectError,
  compression: Compression | null,
  compressMinBytes: number,
): Promise<UniversalServerResponse> {
  let body: Uint8Array = connect.errorToJsonBytes(error, undefined);
  const responseHeader = new Headers({ [connect.headerContentType]: connect.contentTypeUnaryJson });
  error.metadata.forEach((value, key) => {
    responseHeader.set(key, value);
  });
  if (compression !== null && body.byteLength >= compressMinBytes) {
    body = await compression.compress(body);
    responseHeader.set(connect.headerUnaryEncoding, compression.name);
  }
  responseHeader.set(connect.headerUnaryContentLength, body.byteLength.toString(10));
  return {
    status: connect.codeToHttpStatus(error.code),
    header: responseHeader,
    body: createAsyncIterable([body]),
  };
}
