import type * as http2 from "node:http2";
import { create, type DescMethodUnary, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Compression, compressionNegotiate } from "@connectrpc/connect/protocol";
import {
  COMPRESSED_FLAG,
  createEnvelopeReader,
  type DeadlineWatchdog,
  ENVELOPE_HEADER_BYTES,
  type EnvelopeReader,
  type EnvelopeReaderHandlers,
  type EnvelopeReaderOptions,
  encodeEnvelope,
  GRPC_CONTENT_TYPES,
  parseGrpcTimeout,
  SUCCESS_TRAILERS,
  trailersOf,
  type WatchedDeadline,
} from "@statebridge/grpc-wire";
import { BridgeService } from "@statebridge/proto";
import type { UnaryMethods } from "./bridge-service.js";
import {
  compressedEnvelopeError,
  connectErrorOf,
  type DirectCallHandler,
  endCall,
  endsInsideEnvelope,
  incompleteEnvelopeError,
  messageOf,
  type NegotiatedResponse,
  parseError,
  RESPOND_OPTIONS,
} from "./direct-call.js";
import type { BridgeServerLogger } from "./logger.js";
import { decodeGetVariableRequest, decodeGetVariablesRequest } from "./request-decoding.js";
import { oversizeRequestError } from "./request-size-limit.js";
import { decodeSetVariableRequest, decodeSetVariablesRequest } from "./set-request-decoding.js";
import {
  encodeSetVariableResponseEnvelope,
  encodeSetVariablesResponseEnvelope,
} from "./set-response-encoding.js";
import { observeRequest } from "./telemetry.js";
import {
  encodeGetVariableResponseEnvelope,
  encodeGetVariablesResponseEnvelope,
} from "./variable-encoding.js";

/** Options of {@link createGrpcFastPath}. */
export interface GrpcFastPathOptions {
  /** The implementation connect's router serves too. */
  readonly methods: UnaryMethods;
  /** Handlers of streaming calls by request path (see `createWatchFastPath`); others go to connect. */
  readonly streams?: ReadonlyMap<string, DirectCallHandler>;
  /** The largest request message, in bytes. */
  readonly maxRequestBytes: number;
  /** The response encodings connect's router offers, in its order of preference. */
  readonly acceptCompression: readonly Compression[];
  /** Responses at least this large are compressed when the client accepts it. */
  readonly compressMinBytes: number;
  /** Watches the `grpc-timeout` of calls whose request is still arriving. */
  readonly watchdog: DeadlineWatchdog;
  readonly logger: BridgeServerLogger;
}

/** Serves gRPC calls of `statebridge.v1.BridgeService` directly on their HTTP/2 stream. */
export interface GrpcFastPath {
  /**
   * Takes the stream if it is a call this path serves, and answers it.
   * @returns false, having touched nothing, for any other request: connect serves it.
   */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

/** What connect answers with for a binary gRPC request. */
const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
/** Distinct `grpc-accept-encoding` values remembered; a client cannot grow the map past it. */
const MAX_NEGOTIATIONS_KEPT = 64;
/**
 * Responses written without protobuf-es's writer, by method: each returns the whole envelope,
 * byte-equal to what `toBinary` frames (test/variable-encoding.test.ts,
 * test/set-response-encoding.test.ts), or undefined to leave
 * a message to protobuf-es.
 */
const RESPONSE_ENCODERS: ReadonlyMap<string, (result: never) => Buffer | undefined> = new Map<
  string,
  (result: never) => Buffer | undefined
>([
  ["getVariable", encodeGetVariableResponseEnvelope],
  ["getVariables", encodeGetVariablesResponseEnvelope],
  ["setVariable", encodeSetVariableResponseEnvelope],
  ["setVariables", encodeSetVariablesResponseEnvelope],
]);
/**
 * Requests read without protobuf-es's reflection, by method: each returns what `fromBinary`
 * returns (test/request-decoding.test.ts, test/set-request-decoding.test.ts), or undefined to
 * leave the bytes to it.
 */
const REQUEST_DECODERS: ReadonlyMap<string, (bytes: Uint8Array) => unknown> = new Map<
  string,
  (bytes: Uint8Array) => unknown
>([
  ["getVariable", decodeGetVariableRequest],
  ["getVariables", decodeGetVariablesRequest],
  ["setVariable", decodeSetVariableRequest],
  ["setVariables", decodeSetVariablesRequest],
]);

/**
 * Creates the direct path for gRPC calls of `BridgeService`. Connect's handler pipeline (async
 * iterables, abort signals, header objects) costs several times what the call itself does;
 * this path reads the request off the HTTP/2 stream, decodes it, calls the same method
 * implementation connect's router calls, and writes the response and its trailers itself.
 *
 * One prologue ({@link GrpcFastPath.serve}) decides for every call, unary or streaming, whether
 * this path takes it: `POST` of a method it serves, content type `application/grpc` or
 * `application/grpc+proto`, no request compression (or `identity`), no `grpc-timeout` or a
 * valid one. Everything else — Connect, gRPC-Web, JSON, health, compressed requests, malformed
 * headers — is left to connect. A step every direct call needs belongs there; steps every call
 * of both paths needs (the token, the host, timeouts) run before it, in the listener's gate.
 *
 * Unary answers match connect's: the same headers (content type, the negotiated
 * `grpc-encoding`; no `date`), message bytes and trailers (connect's own `setTrailerStatus`
 * on the error of the one translation seam). Malformed envelopes, missing or extra messages,
 * compressed flags and undecodable messages get connect's codes and messages, in the order
 * connect checks them; an oversize message is refused from its envelope header. Once a call is
 * answered nothing more of its request is read: a client still sending is reset (NO_ERROR).
 * Unlike connect, a unary call still arriving at its `grpc-timeout` is answered
 * DEADLINE_EXCEEDED (connect keeps waiting for the body).
 */
export function createGrpcFastPath(options: GrpcFastPathOptions): GrpcFastPath {
  const { methods, acceptCompression } = options;
  const context: UnaryContext = {
    readerOptions: { maxMessageBytes: options.maxRequestBytes },
    maxRequestBytes: options.maxRequestBytes,
    compressMinBytes: options.compressMinBytes,
    watchdog: options.watchdog,
    logger: options.logger,
  };
  const handlers = new Map<string, DirectCallHandler>(options.streams);
  for (const method of BridgeService.methods) {
    if (method.methodKind !== "unary") continue;
    const implementation = methods[method.localName as keyof UnaryMethods] as
      | ((request: unknown) => unknown)
      | undefined;
    if (implementation === undefined) continue;
    const route: UnaryRoute = {
      method: method as DescMethodUnary,
      implementation,
      encodeEnvelope: RESPONSE_ENCODERS.get(method.localName) as UnaryRoute["encodeEnvelope"],
      decode: REQUEST_DECODERS.get(method.localName),
      onStreamError: (error) => {
        options.logger.debug({ err: error, procedure: method.localName }, "call ended by the client");
      },
    };
    handlers.set(`/${BridgeService.typeName}/${method.name}`, (stream, timeoutMs, response) => {
      new UnaryCall(stream, route, context, response, timeoutMs);
    });
  }

  // Clients send the same few accept lists over and over: each is negotiated once.
  const negotiated = new Map<string, NegotiatedResponse>();
  /** The response encoding, negotiated as connect does, so that the headers are the ones connect sends. */
  function negotiate(accepted: string | undefined): NegotiatedResponse {
    const key = accepted ?? "";
    let response = negotiated.get(key);
    if (response === undefined) {
      const compression = compressionNegotiate(
        acceptCompression as Compression[],
        null,
        accepted ?? null,
        "grpc-accept-encoding",
      ).response;
      response = Object.freeze({
        compression,
        // Node's respond() copies the headers it is given: one frozen object serves every call.
        headers: Object.freeze(
          compression === null
            ? { ":status": 200, "content-type": RESPONSE_CONTENT_TYPE }
            : { ":status": 200, "content-type": RESPONSE_CONTENT_TYPE, "grpc-encoding": compression.name },
        ),
      });
      if (negotiated.size < MAX_NEGOTIATIONS_KEPT) negotiated.set(key, response);
    }
    return response;
  }

  return {
    serve(stream, headers) {
      if (headers[":method"] !== "POST") return false;
      const path = headers[":path"];
      const handler = path === undefined ? undefined : handlers.get(path);
      if (handler === undefined) return false;
      const contentType = headers["content-type"];
      if (contentType === undefined || !GRPC_CONTENT_TYPES.has(contentType)) return false;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      const timeoutHeader = headers["grpc-timeout"];
      let timeoutMs: number | undefined;
      if (timeoutHeader !== undefined) {
        if (typeof timeoutHeader !== "string") return false;
        const timeout = parseGrpcTimeout(timeoutHeader);
        // An invalid timeout is connect's to refuse, in its words.
        if (timeout.error !== undefined) return false;
        timeoutMs = timeout.timeoutMs;
      }
      const accepted = headers["grpc-accept-encoding"];
      if (accepted !== undefined && typeof accepted !== "string") return false;
      handler(stream, timeoutMs, negotiate(accepted));
      return true;
    },
  };
}

interface UnaryRoute {
  readonly method: DescMethodUnary;
  readonly implementation: (request: unknown) => unknown;
  /** Frames the method's result without protobuf-es; undefined (or its undefined) for toBinary. */
  readonly encodeEnvelope: ((result: unknown) => Buffer | undefined) | undefined;
  /** Reads the request without protobuf-es; undefined (or its undefined) for fromBinary. */
  readonly decode: ((bytes: Uint8Array) => unknown) | undefined;
  /**
   * Listens for errors of a call's stream (a reset, a broken connection), which end the call;
   * without a listener they would be thrown. One per method, shared by its calls.
   */
  readonly onStreamError: (error: Error) => void;
}

/** What every unary call of one server shares. */
interface UnaryContext {
  readonly readerOptions: EnvelopeReaderOptions;
  readonly maxRequestBytes: number;
  readonly compressMinBytes: number;
  readonly watchdog: DeadlineWatchdog;
  readonly logger: BridgeServerLogger;
}

/**
 * One unary call: reads envelopes as they arrive, answers a malformed request as soon as
 * connect would, calls the method once the request ended with one message, and answers once.
 */
class UnaryCall implements EnvelopeReaderHandlers {
  private reader: EnvelopeReader;
  /** The decoded request message, once its envelope arrived. */
  private request: unknown;
  /** Bytes of the whole envelopes read. */
  private envelopeBytes = 0;
  private answered = false;
  private deadline: WatchedDeadline | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly route: UnaryRoute,
    private readonly context: UnaryContext,
    private readonly response: NegotiatedResponse,
    timeoutMs: number | undefined,
  ) {
    this.reader = createEnvelopeReader(this, context.readerOptions);
    stream.on("data", this.reader.push);
    // `end` and `close` come once: `on` spares the wrapper `once` makes per call.
    stream.on("end", () => this.onRequestEnd());
    stream.on("error", route.onStreamError);
    stream.on("close", () => this.onClose());
    this.deadline =
      timeoutMs === undefined
        ? undefined
        : context.watchdog.watch(timeoutMs, () =>
            this.answer(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
          );
  }

  /** Checks each message as connect does: the first's flags and bytes, then any second one. */
  onEnvelope(message: Uint8Array, compressed: boolean): void {
    this.envelopeBytes += ENVELOPE_HEADER_BYTES + message.byteLength;
    if (compressed) {
      this.answer(compressedEnvelopeError());
      return;
    }
    let decoded: unknown;
    try {
      decoded = this.route.decode?.(message) ?? fromBinary(this.route.method.input, message);
    } catch (error) {
      this.answer(parseError(error));
      return;
    }
    if (this.reader.messages === 1) {
      this.request = decoded;
      observeRequest(this.stream, decoded);
      return;
    }
    // A second message settles a unary call: connect refuses it without waiting for the end.
    this.answer(
      new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented),
    );
  }

  /** Checked from each envelope header, before its message is buffered: as limitRequestBody does. */
  onOversize(length: number): void {
    this.answer(oversizeRequestError(length, true, this.context.maxRequestBytes, this.context.logger));
  }

  private onRequestEnd(): void {
    if (this.answered) return;
    if (endsInsideEnvelope(this.reader.receivedBytes - this.envelopeBytes)) {
      this.answer(incompleteEnvelopeError());
      return;
    }
    if (this.reader.messages === 0) {
      this.answer(
        new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented),
      );
      return;
    }
    const request = this.request;
    this.request = undefined;
    let result: unknown;
    try {
      result = this.route.implementation(request);
    } catch (error) {
      this.answer(connectErrorOf(error));
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.respond(value),
        (error: unknown) => this.answer(connectErrorOf(error)),
      );
    } else {
      this.respond(result);
    }
  }

  private respond(result: unknown): void {
    const output = this.route.method.output;
    let message: Uint8Array;
    try {
      const framed = this.route.encodeEnvelope?.(result);
      if (framed !== undefined) {
        if (
          this.response.compression === null ||
          framed.byteLength - ENVELOPE_HEADER_BYTES < this.context.compressMinBytes
        ) {
          this.answer(undefined, framed);
          return;
        }
        message = framed.subarray(ENVELOPE_HEADER_BYTES);
      } else {
        message = toBinary(output, create(output, result as never));
      }
    } catch (error) {
      this.answer(new ConnectError(`serialize binary: ${messageOf(error)}`, Code.Internal));
      return;
    }
    const compression = this.response.compression;
    if (compression !== null && message.byteLength >= this.context.compressMinBytes) {
      compression.compress(message).then(
        (compressed) => this.answer(undefined, encodeEnvelope(compressed, COMPRESSED_FLAG)),
        (error: unknown) => this.answer(connectErrorOf(error)),
      );
      return;
    }
    this.answer(undefined, encodeEnvelope(message));
  }

  /** Writes the response: headers, the message if any, and the trailers of `error` or success. */
  private answer(error: ConnectError | undefined, body?: Uint8Array): void {
    if (this.answered) return;
    this.answered = true;
    // Nothing more is read (flow control holds the client back) until the reset after the trailers.
    this.reader.stop();
    if (!this.stream.readableEnded) this.stream.pause();
    this.request = undefined;
    if (this.deadline !== undefined) this.context.watchdog.cancel(this.deadline);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond(this.response.headers, RESPOND_OPTIONS);
      endCall(
        stream,
        error === undefined ? SUCCESS_TRAILERS : trailersOf(error),
        body,
        this.context.logger,
        this.route.method.localName,
      );
    } catch (writeError) {
      this.context.logger.debug(
        { err: writeError, procedure: this.route.method.localName },
        "call ended by the client",
      );
    }
  }

  private onClose(): void {
    if (this.deadline !== undefined) this.context.watchdog.cancel(this.deadline);
    if (!this.answered) {
      this.answered = true;
      this.reader.stop();
      this.request = undefined;
      this.context.logger.debug(
        { procedure: this.route.method.localName, reason: "stream closed before the request ended" },
        "call ended by the client",
      );
    }
    // Node keeps a closed stream reachable until the next full collection, and with it its
    // listeners and this call: what the call no longer needs is let go now rather than
    // promoted to the old generation with it.
    this.reader = STOPPED_READER;
    this.deadline = undefined;
  }
}

/** What a closed call reads with: nothing. */
const STOPPED_READER: EnvelopeReader = createEnvelopeReader({ onEnvelope() {}, onOversize() {} });
STOPPED_READER.stop();

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}
