import type * as http2 from "node:http2";
import { create, type DescMethodUnary, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Compression, compressionNegotiate } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { BridgeService } from "@statebridge/proto";
import type { DeadlineWatchdog, WatchedDeadline } from "@statebridge/state-provider";
import type { TokenCheck } from "./auth.js";
import type { UnaryMethods } from "./bridge-service.js";
import type { BridgeServerLogger } from "./logger.js";
import { oversizeRequestError } from "./request-size-limit.js";

/** Options of {@link createGrpcFastPath}. */
export interface GrpcFastPathOptions {
  /** The implementation connect's router serves too. */
  readonly methods: UnaryMethods;
  /** The largest request message, in bytes. */
  readonly maxRequestBytes: number;
  /** The bearer token check, when the server requires a token. */
  readonly checkToken?: TokenCheck;
  /** The response encodings connect's router offers, in its order of preference. */
  readonly acceptCompression: readonly Compression[];
  /** Responses at least this large are compressed when the client accepts it. */
  readonly compressMinBytes: number;
  /** Watches the `grpc-timeout` of calls whose request is still arriving. */
  readonly watchdog: DeadlineWatchdog;
  readonly logger: BridgeServerLogger;
}

/** Serves unary gRPC calls of `statebridge.v1.BridgeService` directly on their HTTP/2 stream. */
export interface GrpcFastPath {
  /**
   * Takes the stream if it is a call this path serves, and answers it.
   * @returns false, having touched nothing, for any other request: connect serves it.
   */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

interface Route {
  readonly method: DescMethodUnary;
  readonly implementation: (request: unknown) => unknown;
}

/** What connect answers with for a binary gRPC request. */
const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
const SUCCESS_TRAILERS = Object.freeze({ "grpc-status": "0" });
/**
 * Trailers follow the message. gRPC has no use for a `date` header (connect's path sends
 * Node's default one): `sendDate`, which Node's `respond()` honours like the compatibility
 * response does, is missing from its type.
 */
const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b0000_0001;
/** Distinct `grpc-accept-encoding` values remembered; a client cannot grow the map past it. */
const MAX_NEGOTIATIONS_KEPT = 64;

/**
 * Creates the direct path for unary gRPC calls. Connect's handler pipeline (async iterables,
 * abort signals, header objects) costs several times what the call itself does; this path
 * reads the request off the HTTP/2 stream, decodes it, calls the same method implementation
 * connect's router calls, and writes the response and its trailers itself.
 *
 * It takes only what it can answer exactly as connect would: `POST` of a unary method of
 * `statebridge.v1.BridgeService`, content type `application/grpc` or `application/grpc+proto`,
 * no request compression (or `identity`), no `grpc-timeout` or a valid one. Everything else —
 * Connect, gRPC-Web, JSON, streams, health, compressed requests, malformed headers — is left
 * to connect. What it answers matches connect's answer: the same headers (content type, the
 * negotiated `grpc-encoding`; no `date`), the same message bytes, and the same trailers, built
 * by connect's own `setTrailerStatus` from the error of the one translation seam
 * (`toConnectError`). Malformed envelopes, missing or extra messages, compressed flags and
 * undecodable messages get connect's codes and messages, in the order connect checks them;
 * the bearer token and the request size limit are checked by the functions the connect path
 * uses. Unlike connect, it answers DEADLINE_EXCEEDED when a request is still arriving at its
 * `grpc-timeout` (connect keeps waiting for the body).
 */
export function createGrpcFastPath(options: GrpcFastPathOptions): GrpcFastPath {
  const { methods, maxRequestBytes, checkToken, acceptCompression, compressMinBytes, watchdog, logger } =
    options;
  const routes = new Map<string, Route>();
  for (const method of BridgeService.methods) {
    if (method.methodKind !== "unary") continue;
    const implementation = methods[method.localName as keyof UnaryMethods] as
      | ((request: unknown) => unknown)
      | undefined;
    if (implementation === undefined) continue;
    routes.set(`/${BridgeService.typeName}/${method.name}`, {
      method: method as DescMethodUnary,
      implementation,
    });
  }

  // Clients send the same few accept lists over and over: each is negotiated once.
  const negotiated = new Map<string, Compression | null>();
  /** The response encoding, negotiated as connect does, so that the headers are the ones connect sends. */
  function negotiate(accepted: string | undefined): Compression | null {
    const key = accepted ?? "";
    let compression = negotiated.get(key);
    if (compression === undefined) {
      compression = compressionNegotiate(
        acceptCompression as Compression[],
        null,
        accepted ?? null,
        "grpc-accept-encoding",
      ).response;
      if (negotiated.size < MAX_NEGOTIATIONS_KEPT) negotiated.set(key, compression);
    }
    return compression;
  }

  return {
    serve(stream, headers) {
      if (headers[":method"] !== "POST") return false;
      const path = headers[":path"];
      const route = path === undefined ? undefined : routes.get(path);
      if (route === undefined) return false;
      const contentType = headers["content-type"];
      if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      const timeoutHeader = headers["grpc-timeout"];
      let timeoutMs: number | undefined;
      if (timeoutHeader !== undefined) {
        if (typeof timeoutHeader !== "string") return false;
        // An invalid timeout is connect's to refuse, in its words.
        const timeout = parseTimeout(timeoutHeader, Number.MAX_SAFE_INTEGER);
        if (timeout.error !== undefined || timeout.timeoutMs === undefined) return false;
        timeoutMs = timeout.timeoutMs;
      }
      const accepted = headers["grpc-accept-encoding"];
      if (accepted !== undefined && typeof accepted !== "string") return false;
      const authorization = headers.authorization;
      if (authorization !== undefined && typeof authorization !== "string") return false;
      const responseCompression = negotiate(accepted);
      serveCall(stream, route, timeoutMs, responseCompression, authorization);
      return true;
    },
  };

  function serveCall(
    stream: http2.ServerHttp2Stream,
    route: Route,
    timeoutMs: number | undefined,
    responseCompression: Compression | null,
    authorization: string | undefined,
  ): void {
    const procedure = route.method.localName;
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    // The envelope scanner: bytes of the current envelope header seen, the header itself,
    // bytes of the current message still to come, and whole envelopes seen.
    const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
    let headerBytes = 0;
    let messageRemaining = 0;
    let envelopes = 0;
    let answered = false;
    let deadline: WatchedDeadline | undefined;

    const onData = (chunk: Buffer): void => {
      if (answered) return; // The rest of a refused request is read and dropped.
      chunks.push(chunk);
      receivedBytes += chunk.byteLength;
      let offset = 0;
      while (offset < chunk.byteLength && !answered) {
        if (messageRemaining > 0) {
          const taken = Math.min(messageRemaining, chunk.byteLength - offset);
          messageRemaining -= taken;
          offset += taken;
          if (messageRemaining === 0) completeEnvelope();
          continue;
        }
        header[headerBytes++] = chunk[offset++] as number;
        if (headerBytes < ENVELOPE_HEADER_BYTES) continue;
        headerBytes = 0;
        const length = header.readUInt32BE(1);
        // Checked as each envelope header arrives, before its message: as limitRequestBody does.
        if (length > maxRequestBytes) {
          answer(oversizeRequestError(length, true, maxRequestBytes, logger));
        } else {
          messageRemaining = length;
          if (length === 0) completeEnvelope();
        }
      }
    };

    /** A second message settles a unary call: connect refuses it without waiting for the end. */
    const completeEnvelope = (): void => {
      if (++envelopes === 2) finish(true);
    };

    /** Answers the call once the request ended (`extra`: false) or a second message arrived. */
    const finish = (extra: boolean): void => {
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, receivedBytes);
      chunks.length = 0;
      const request = readRequest(bytes, extra);
      if (request instanceof ConnectError) {
        answer(request);
        return;
      }
      const refusal = checkToken?.(authorization, route.method.name);
      if (refusal !== undefined) {
        answer(refusal);
        return;
      }
      let result: unknown;
      try {
        result = route.implementation(request.message);
      } catch (error) {
        answer(connectErrorOf(error));
        return;
      }
      if (isPromiseLike(result)) {
        result.then(respond, (error: unknown) => answer(connectErrorOf(error)));
      } else {
        respond(result);
      }
    };

    /**
     * Decodes the one request message, or says what is wrong with the request, with connect's
     * code and words, in the order connect checks: envelopes, the first message's flags and
     * bytes, then whether anything followed it.
     */
    const readRequest = (bytes: Buffer, extra: boolean): ConnectError | { readonly message: unknown } => {
      if (envelopes === 0) {
        return receivedBytes === 0
          ? new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented)
          : new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      }
      const flags = bytes[0] as number;
      const length = bytes.readUInt32BE(1);
      if ((flags & COMPRESSED_FLAG) === COMPRESSED_FLAG) {
        return new ConnectError(
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      }
      let message: unknown;
      try {
        // A Uint8Array view, not a Buffer: the views protobuf-es hands out for bytes fields are
        // then Uint8Arrays too, whose slice() copies (a Buffer's slice() does not).
        message = fromBinary(
          route.method.input,
          new Uint8Array(bytes.buffer, bytes.byteOffset + ENVELOPE_HEADER_BYTES, length),
        );
      } catch (error) {
        return new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal);
      }
      if (extra) {
        return new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      if (receivedBytes > ENVELOPE_HEADER_BYTES + length) {
        return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      }
      return { message };
    };

    const respond = (result: unknown): void => {
      let message: Uint8Array;
      try {
        message = toBinary(route.method.output, create(route.method.output, result as never));
      } catch (error) {
        answer(new ConnectError(`serialize binary: ${messageOf(error)}`, Code.Internal));
        return;
      }
      if (responseCompression !== null && message.byteLength >= compressMinBytes) {
        responseCompression.compress(message).then(
          (compressed) => answer(undefined, envelope(COMPRESSED_FLAG, compressed)),
          (error: unknown) => answer(connectErrorOf(error)),
        );
        return;
      }
      answer(undefined, envelope(0, message));
    };

    /** Writes the response: headers, the message if any, and the trailers of `error` or success. */
    const answer = (error: ConnectError | undefined, body?: Uint8Array): void => {
      if (answered) return;
      answered = true;
      if (deadline !== undefined) watchdog.cancel(deadline);
      if (stream.destroyed || stream.closed) return;
      const trailers = error === undefined ? SUCCESS_TRAILERS : trailersOf(error);
      stream.once("wantTrailers", () => {
        try {
          stream.sendTrailers(trailers);
        } catch (sendError) {
          logger.debug({ err: sendError, procedure }, "call ended by the client");
        }
      });
      try {
        stream.respond(
          responseCompression === null
            ? { ":status": 200, "content-type": RESPONSE_CONTENT_TYPE }
            : {
                ":status": 200,
                "content-type": RESPONSE_CONTENT_TYPE,
                "grpc-encoding": responseCompression.name,
              },
          RESPOND_OPTIONS,
        );
        if (body === undefined) stream.end();
        else stream.end(body);
      } catch (writeError) {
        logger.debug({ err: writeError, procedure }, "call ended by the client");
      }
    };

    stream.on("data", onData);
    stream.once("end", () => {
      if (!answered) finish(false);
    });
    // A stream error (a reset, a broken connection) ends the call; without a listener it
    // would be thrown.
    stream.on("error", (error) => {
      logger.debug({ err: error, procedure }, "call ended by the client");
    });
    stream.once("close", () => {
      if (deadline !== undefined) watchdog.cancel(deadline);
      if (!answered) {
        answered = true;
        logger.debug(
          { procedure, reason: "stream closed before the request ended" },
          "call ended by the client",
        );
      }
    });
    if (timeoutMs !== undefined) {
      deadline = watchdog.watch(timeoutMs, () =>
        answer(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      );
    }
  }

  function connectErrorOf(error: unknown): ConnectError {
    // The methods' own errors already went through toConnectError; anything else is a defect
    // of this path, answered as connect answers whatever is not a ConnectError.
    return error instanceof ConnectError
      ? error
      : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
  }
}

/** The trailers connect sends for `error`: built by connect's own `setTrailerStatus`. */
export function trailersOf(error: ConnectError): Record<string, string> {
  const trailers: Record<string, string> = {};
  setTrailerStatus(new Headers(), error).forEach((value, name) => {
    trailers[name] = value;
  });
  return trailers;
}

function envelope(flags: number, message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + message.byteLength);
  framed[0] = flags;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, ENVELOPE_HEADER_BYTES);
  return framed;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
