import type * as http2 from "node:http2";
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  BridgeService,
  WatchStreamRequestSchema,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import type { TokenCheck } from "./auth.js";
import { trailersOf } from "./grpc-fast-path.js";
import type { BridgeServerLogger } from "./logger.js";
import { oversizeRequestError } from "./request-size-limit.js";

/** A watch method as connect's router runs it: an async generator of response messages. */
type StreamImplementation = (requests: never, context: HandlerContext) => AsyncIterable<unknown>;

/** Options of {@link createWatchFastPath}. */
export interface WatchFastPathOptions {
  /** The implementations connect's router serves too. */
  readonly watchVariables: StreamImplementation;
  readonly watchStream: StreamImplementation;
  /** The largest request message, in bytes. */
  readonly maxRequestBytes: number;
  /** The bearer token check, when the server requires a token. */
  readonly checkToken?: TokenCheck;
  readonly logger: BridgeServerLogger;
}

/** Serves the gRPC watch streams of `statebridge.v1.BridgeService` directly on their HTTP/2 stream. */
export interface WatchFastPath {
  /**
   * Takes the stream if it is a call this path serves, and answers it.
   * @returns false, having touched nothing, for any other request: connect serves it.
   */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

interface StreamRoute {
  readonly name: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
  /** Whether the client streams requests (`WatchStream`) or sends one (`WatchVariables`). */
  readonly clientStreaming: boolean;
  readonly implementation: StreamImplementation;
}

const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
const SUCCESS_TRAILERS = Object.freeze({ "grpc-status": "0" });
const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b0000_0001;
/** Encoded messages gathered before they are written without waiting for the next tick. */
const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * Creates the direct path for the gRPC watch streams (`WatchVariables`, `WatchStream`). The
 * same method implementations connect's router runs produce the messages, so every guarantee
 * they keep (order, the bounded queue and its cut-off, heartbeats only when nothing waits,
 * `session_expired`, the shutdown status) holds on both paths; what this path saves is
 * connect's per-message pipeline. Messages that are ready together — the events of one change
 * for many watches of a multiplexed stream — are written to the HTTP/2 stream in one write,
 * at the end of the tick that produced them. The writer waits for the network whenever the
 * stream's buffer is full, so a consumer that does not read lets the method's own queue grow
 * and be cut off, exactly as on connect's path.
 *
 * It takes only `POST` of the two methods with content type `application/grpc` or
 * `application/grpc+proto`, no request compression and no `grpc-timeout`; Connect, gRPC-Web,
 * JSON and everything else stays with connect. Responses are never compressed (they go to
 * clients next to the server).
 */
export function createWatchFastPath(options: WatchFastPathOptions): WatchFastPath {
  const { maxRequestBytes, checkToken, logger } = options;
  const routes = new Map<string, StreamRoute>([
    [
      `/${BridgeService.typeName}/WatchVariables`,
      {
        name: "WatchVariables",
        input: WatchVariablesRequestSchema,
        output: WatchVariablesResponseSchema,
        clientStreaming: false,
        implementation: options.watchVariables,
      },
    ],
    [
      `/${BridgeService.typeName}/WatchStream`,
      {
        name: "WatchStream",
        input: WatchStreamRequestSchema,
        output: WatchStreamResponseSchema,
        clientStreaming: true,
        implementation: options.watchStream,
      },
    ],
  ]);

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
      if (headers["grpc-timeout"] !== undefined) return false;
      const authorization = headers.authorization;
      if (authorization !== undefined && typeof authorization !== "string") return false;
      serveCall(stream, route, authorization);
      return true;
    },
  };

  function serveCall(stream: http2.ServerHttp2Stream, route: StreamRoute, authorization: string | undefined) {
    const procedure = route.name;
    const abort = new AbortController();
    const requests = createRequestQueue();
    let responded = false;
    let finished = false;

    stream.on("error", (error) => {
      logger.debug({ err: error, procedure }, "call ended by the client");
    });
    stream.once("close", () => {
      finished = true;
      abort.abort();
      requests.end(new ConnectError("the client ended the call", Code.Canceled));
    });

    const respond = (): void => {
      if (responded) return;
      responded = true;
      stream.respond({ ":status": 200, "content-type": RESPONSE_CONTENT_TYPE }, RESPOND_OPTIONS);
    };

    /** Ends the call with `error`'s trailers, or success. */
    const finish = (error: ConnectError | undefined): void => {
      if (finished) return;
      finished = true;
      if (stream.destroyed || stream.closed) return;
      const trailers = error === undefined ? SUCCESS_TRAILERS : trailersOf(error);
      try {
        respond();
        stream.once("wantTrailers", () => {
          try {
            stream.sendTrailers(trailers);
          } catch (sendError) {
            logger.debug({ err: sendError, procedure }, "call ended by the client");
          }
        });
        stream.end();
      } catch (writeError) {
        logger.debug({ err: writeError, procedure }, "call ended by the client");
      }
    };

    // The envelope scanner: the current envelope's header, and its message as it arrives.
    const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
    let headerBytes = 0;
    let message: Buffer | undefined;
    let messageBytes = 0;
    let messages = 0;
    const onMessage = (flags: number, bytes: Buffer): void => {
      if ((flags & COMPRESSED_FLAG) === COMPRESSED_FLAG) {
        requests.end(
          new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal),
        );
        return;
      }
      messages++;
      if (!route.clientStreaming && messages > 1) {
        requests.end(
          new ConnectError(
            "protocol error: received extra input message for server-streaming method",
            Code.InvalidArgument,
          ),
        );
        return;
      }
      try {
        requests.push(fromBinary(route.input, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
      } catch (error) {
        requests.end(new ConnectError(`parse binary: ${messageOf(error)}`, Code.Internal));
      }
    };
    stream.on("data", (chunk: Buffer) => {
      if (requests.ended) return; // Whatever follows a refused request is read and dropped.
      let offset = 0;
      while (offset < chunk.byteLength && !requests.ended) {
        if (message !== undefined) {
          const taken = Math.min(message.byteLength - messageBytes, chunk.byteLength - offset);
          chunk.copy(message, messageBytes, offset, offset + taken);
          messageBytes += taken;
          offset += taken;
          if (messageBytes === message.byteLength) {
            const complete = message;
            message = undefined;
            onMessage(header[0] as number, complete);
          }
          continue;
        }
        header[headerBytes++] = chunk[offset++] as number;
        if (headerBytes < ENVELOPE_HEADER_BYTES) continue;
        headerBytes = 0;
        const length = header.readUInt32BE(1);
        if (length > maxRequestBytes) {
          requests.end(oversizeRequestError(length, true, maxRequestBytes, logger));
        } else if (length === 0) {
          onMessage(header[0] as number, Buffer.alloc(0));
        } else {
          message = Buffer.allocUnsafe(length);
          messageBytes = 0;
        }
      }
    });
    stream.once("end", () => {
      if (message !== undefined || headerBytes !== 0) {
        requests.end(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
      } else {
        requests.end();
      }
    });

    const refusal = checkToken?.(authorization, route.name);
    if (refusal !== undefined) {
      finish(refusal);
      return;
    }
    run().catch((error: unknown) => finish(ConnectError.from(error)));

    async function run(): Promise<void> {
      let input: unknown;
      if (route.clientStreaming) {
        input = requests.iterable();
      } else {
        const first = await requests.iterable()[Symbol.asyncIterator]().next();
        if (first.done === true) {
          throw new ConnectError(
            "protocol error: missing input message for server-streaming method",
            Code.InvalidArgument,
          );
        }
        input = first.value;
      }
      if (finished) return;
      respond();
      const context = { signal: abort.signal } as HandlerContext;
      const responses = route.implementation(input as never, context)[Symbol.asyncIterator]();
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let scheduled = false;
      /** Writes what was gathered; false when the stream's buffer is full. */
      const flush = (): boolean => {
        scheduled = false;
        if (pending.length === 0 || finished) return true;
        const chunk = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        return stream.write(chunk);
      };
      const flushLater = (): void => {
        flush();
      };
      try {
        for (;;) {
          const result = await responses.next();
          if (result.done === true || finished) break;
          const encoded = toBinary(route.output, create(route.output, result.value as never));
          const framed = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + encoded.byteLength);
          framed[0] = 0;
          framed.writeUInt32BE(encoded.byteLength, 1);
          framed.set(encoded, ENVELOPE_HEADER_BYTES);
          pending.push(framed);
          pendingBytes += framed.byteLength;
          // Messages produced in the same tick are written together, after it.
          if (pendingBytes < WRITE_BATCH_BYTES) {
            if (!scheduled) {
              scheduled = true;
              process.nextTick(flushLater);
            }
            continue;
          }
          if (!flush()) await drained(stream);
        }
      } catch (error) {
        flush();
        finish(ConnectError.from(error));
        return;
      } finally {
        if (finished) await responses.return?.();
      }
      flush();
      finish(undefined);
    }
  }
}

/** Resolves when `stream` can take more, or is gone. */
function drained(stream: http2.ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

interface RequestQueue {
  readonly ended: boolean;
  push(message: unknown): void;
  /** Ends the requests, after the queued ones, with `error` if given. */
  end(error?: ConnectError): void;
  iterable(): AsyncIterable<unknown>;
}

/** The decoded request messages of one call, as the async iterable a method reads. */
function createRequestQueue(): RequestQueue {
  const items: unknown[] = [];
  let ended = false;
  let failure: ConnectError | undefined;
  let waiter: (() => void) | undefined;
  const wake = () => {
    const current = waiter;
    waiter = undefined;
    current?.();
  };
  return {
    get ended() {
      return ended;
    },
    push(message) {
      if (ended) return;
      items.push(message);
      wake();
    },
    end(error) {
      if (ended) return;
      ended = true;
      failure = error;
      wake();
    },
    iterable() {
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            if (items.length > 0) {
              yield items.shift();
              continue;
            }
            if (ended) {
              if (failure !== undefined) throw failure;
              return;
            }
            await new Promise<void>((resolve) => {
              waiter = resolve;
            });
          }
        },
      };
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
