import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { ENVELOPE_HEADER_BYTES } from "@statebridge/grpc-wire";
import type { BridgeServerLogger } from "./logger.js";

// What the direct gRPC path's unary and watch calls share once the prologue
// (createGrpcFastPath's serve) has accepted a call: its handler's signature, the response it
// negotiated, how a call ends, and the errors it answers with in connect's words.

/** The response a call's headers negotiated: the same for every call with the same accept list. */
export interface NegotiatedResponse {
  /** The encoding of response messages (at least `compressMinBytes` long); null for none. */
  readonly compression: Compression | null;
  /** The response headers connect sends: the content type, and the negotiated `grpc-encoding`. */
  readonly headers: http2.OutgoingHttpHeaders;
}

/**
 * Serves one call whose headers the shared prologue (`createGrpcFastPath`'s `serve`) accepted.
 * @param timeoutMs - the call's `grpc-timeout`; `undefined` for none, or for one longer than
 *   any timer holds.
 */
export type DirectCallHandler = (
  stream: http2.ServerHttp2Stream,
  timeoutMs: number | undefined,
  response: NegotiatedResponse,
) => void;

/**
 * Trailers follow the messages. gRPC has no use for a `date` header (connect's path sends
 * Node's default one): `sendDate`, which Node's `respond()` honours like the compatibility
 * response does, is missing from its type.
 */
export const RESPOND_OPTIONS = {
  waitForTrailers: true,
  sendDate: false,
} as http2.ServerStreamResponseOptions;

/**
 * Ends a direct call: `body` if any, then `trailers`. A client still sending then is reset
 * with NO_ERROR, as HTTP/2 lets a server that answered in full stop a request (RFC 9113
 * §8.1.1): nothing more it sends is read or buffered.
 */
export function endCall(
  stream: http2.ServerHttp2Stream,
  trailers: Readonly<Record<string, string>>,
  body: Uint8Array | undefined,
  logger: BridgeServerLogger,
  procedure: string,
): void {
  // Asked for once: `on` spares the wrapper `once` makes per call.
  stream.on("wantTrailers", () => {
    try {
      stream.sendTrailers(trailers);
    } catch (sendError) {
      logger.debug({ err: sendError, procedure }, "call ended by the client");
      return;
    }
    // Node submits the trailers from a setImmediate of its own: the reset must follow them.
    if (!stream.readableEnded) setImmediate(resetAnswered, stream);
  });
  if (body === undefined) stream.end();
  else stream.end(body);
}

/** Stops a client that keeps sending to a call answered in full, without an error. */
function resetAnswered(stream: http2.ServerHttp2Stream): void {
  if (!stream.readableEnded && !stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** The error a direct call answers with for anything its method threw. */
export function connectErrorOf(error: unknown): ConnectError {
  // The methods' own errors already went through toConnectError; anything else is a defect
  // of this path, answered as connect answers whatever is not a ConnectError.
  return error instanceof ConnectError
    ? error
    : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** The error of an envelope with the compressed flag on a call that names no encoding. */
export function compressedEnvelopeError(): ConnectError {
  return new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
}

/** The error of a request message that does not decode. */
export function parseError(error: unknown): ConnectError {
  return new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal);
}

/** The error of a request that ends inside an envelope. */
export function incompleteEnvelopeError(): ConnectError {
  return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
}

/**
 * Whether a request that ended with `leftoverBytes` after its last whole envelope ends inside
 * one, as connect's envelope decoder decides: a lone 5-byte header whose message has not
 * begun is not counted (the decoder has consumed it), so connect sees no envelope at all there.
 */
export function endsInsideEnvelope(leftoverBytes: number): boolean {
  return leftoverBytes > 0 && leftoverBytes !== ENVELOPE_HEADER_BYTES;
}

/** An error's message, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
