import type * as http2 from "node:http2";
import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  createEnvelopeReader,
  type DeadlineWatchdog,
  ENVELOPE_HEADER_BYTES,
  type EnvelopeReader,
  type EnvelopeReaderHandlers,
  type EnvelopeReaderOptions,
  SUCCESS_TRAILERS,
  trailersOf,
  type WatchedDeadline,
} from "@statebridge/grpc-wire";
import {
  BridgeService,
  WatchStreamRequestSchema,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import {
  compressedEnvelopeError,
  type DirectCallHandler,
  endCall,
  endsInsideEnvelope,
  incompleteEnvelopeError,
  type NegotiatedResponse,
  parseError,
  RESPOND_OPTIONS,
} from "./direct-call.js";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";
import { oversizeRequestError } from "./request-size-limit.js";
import { frameWatchResponse } from "./watch-encoding.js";
import {
  MAX_QUEUED_REQUEST_BYTES,
  MAX_QUEUED_REQUESTS,
  PAUSE_AT_REQUEST_BYTES,
  PAUSE_AT_REQUESTS,
  RequestQueue,
} from "./watch-request-queue.js";

/** A watch method as connect's router runs it: an async generator of response messages. */
type StreamImplementation = (requests: never, context: HandlerContext) => AsyncIterable<unknown>;

/** Options of {@link createWatchFastPath}. */
export interface WatchFastPathOptions {
  /** The implementations connect's router serves too. */
  readonly watchVariables: StreamImplementation;
  readonly watchStream: StreamImplementation;
  /** The largest request message, in bytes. */
  readonly maxRequestBytes: number;
  /** Ends the calls that reach their `grpc-timeout`. */
  readonly watchdog: DeadlineWatchdog;
  readonly logger: BridgeServerLogger;
}

interface StreamRoute {
  readonly name: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
  /** Whether the client streams requests (`WatchStream`) or sends one (`WatchVariables`). */
  readonly clientStreaming: boolean;
  readonly implementation: StreamImplementation;
}

/** What every watch call of one server shares. */
interface WatchContext {
  readonly readerOptions: EnvelopeReaderOptions;
  readonly maxRequestBytes: number;
  readonly watchdog: DeadlineWatchdog;
  readonly logger: BridgeServerLogger;
}

/** Encoded messages gathered before they are written without waiting for the next tick. */
const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * Creates the direct path's handlers of the gRPC watch streams (`WatchVariables`,
 * `WatchStream`), by request path, for `createGrpcFastPath`'s `streams` (whose prologue
 * decides which calls they get). The same method implementations connect's router runs
 * produce the messages, so every guarantee they keep (order, the bounded queue and its
 * cut-off, heartbeats only when nothing waits, `session_expired`, the shutdown status) holds on
 * both paths; what this path saves is connect's per-message pipeline.
 *
 * Messages ready together — the events of one change for many watches of a multiplexed stream
 * — are written in one write, at the end of the tick that produced them. No message is taken
 * from the method while the HTTP/2 stream's buffer is full, so a consumer that does not read
 * lets the method's own queue fill and be cut off, as on connect's path. As connect does, a
 * `WatchVariables` call waits for the end of its request (a second message is
 * `unimplemented`), and a `grpc-timeout` aborts the method's signal. Once a call has ended,
 * nothing more of its request is read: a client still sending is reset (NO_ERROR) after the
 * trailers. Responses are never compressed (the server lets connect serve watch streams when
 * they may be).
 */
export function createWatchFastPath(options: WatchFastPathOptions): ReadonlyMap<string, DirectCallHandler> {
  const context: WatchContext = {
    readerOptions: { maxMessageBytes: options.maxRequestBytes },
    maxRequestBytes: options.maxRequestBytes,
    watchdog: options.watchdog,
    logger: options.logger,
  };
  const routes: StreamRoute[] = [
    {
      name: "WatchVariables",
      input: WatchVariablesRequestSchema,
      output: WatchVariablesResponseSchema,
      clientStreaming: false,
      implementation: options.watchVariables,
    },
    {
      name: "WatchStream",
      input: WatchStreamRequestSchema,
      output: WatchStreamResponseSchema,
      clientStreaming: true,
      implementation: options.watchStream,
    },
  ];
  // run() answers every failure itself; anything that escapes it is a defect worth a look.
  const onDefect = (error: unknown): void => {
    options.logger.error({ err: error }, "direct watch call failed");
  };
  const handlers = new Map<string, DirectCallHandler>();
  for (const route of routes) {
    handlers.set(`/${BridgeService.typeName}/${route.name}`, (stream, timeoutMs, response) => {
      new WatchCall(stream, route, context, response, timeoutMs).run().catch(onDefect);
    });
  }
  return handlers;
}

/** One watch call: its request messages in, its method's messages out. */
class WatchCall implements EnvelopeReaderHandlers {
  private readonly abort = new AbortController();
  private readonly requests = new RequestQueue(this);
  private readonly reader: EnvelopeReader;
  private readonly deadline: WatchedDeadline | undefined;
  /** Bytes of the whole envelopes read. */
  private envelopeBytes = 0;
  private responded = false;
  /** The call has ended: its trailers are decided, or the client went away. */
  private finished = false;
  /** Encoded messages waiting for the end of the tick, and their bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** The last write found the stream's buffer full: nothing more is taken until it drains. */
  private blocked = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly route: StreamRoute,
    private readonly context: WatchContext,
    private readonly response: NegotiatedResponse,
    timeoutMs: number | undefined,
  ) {
    this.reader = createEnvelopeReader(this, context.readerOptions);
    stream.on("data", this.reader.push);
    stream.once("end", () => {
      const leftover = this.reader.receivedBytes - this.envelopeBytes;
      this.requests.end(endsInsideEnvelope(leftover) ? incompleteEnvelopeError() : undefined);
    });
    stream.on("error", (error) => {
      context.logger.debug({ err: error, procedure: route.name }, "call ended by the client");
    });
    stream.once("close", () => {
      this.finished = true;
      this.stopReading(new ConnectError("the client ended the call", Code.Canceled));
      if (this.deadline !== undefined) context.watchdog.cancel(this.deadline);
      this.abort.abort();
    });
    // As connect does: the deadline aborts the method's signal, and the method decides how it ends.
    this.deadline =
      timeoutMs === undefined
        ? undefined
        : context.watchdog.watch(timeoutMs, () =>
            this.abort.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
          );
  }

  onEnvelope(message: Uint8Array, compressed: boolean): void {
    this.envelopeBytes += ENVELOPE_HEADER_BYTES + message.byteLength;
    if (compressed) {
      this.stopReading(compressedEnvelopeError());
      return;
    }
    let decoded: unknown;
    try {
      decoded = fromBinary(this.route.input, message);
    } catch (error) {
      this.stopReading(parseError(error));
      return;
    }
    const requests = this.requests;
    if (requests.push(decoded, message.byteLength)) {
      if (requests.size >= PAUSE_AT_REQUESTS || requests.bytes >= PAUSE_AT_REQUEST_BYTES) this.stream.pause();
    } else {
      this.stopReading(
        toConnectError(
          new StateError(
            "resource_exhausted",
            `the client sends requests faster than the server reads them: more than ${MAX_QUEUED_REQUESTS} ` +
              `requests or ${MAX_QUEUED_REQUEST_BYTES} bytes of them were waiting`,
          ),
          this.context.logger,
        ),
      );
    }
  }

  onOversize(length: number): void {
    this.stopReading(oversizeRequestError(length, true, this.context.maxRequestBytes, this.context.logger));
  }

  /** The method has read every queued request: reading goes on, unless the requests ended. */
  requestsRead(): void {
    if (!this.reader.stopped && this.stream.isPaused()) this.stream.resume();
  }

  /**
   * Reads nothing more (flow control holds the client back until the stream is reset after
   * the trailers): the requests end, with `error` for the method to see if given.
   */
  private stopReading(error?: ConnectError): void {
    this.reader.stop();
    this.stream.pause();
    this.requests.end(error);
  }

  /** Reads the request as connect does, runs the method, and writes its messages. */
  async run(): Promise<void> {
    try {
      const input = this.route.clientStreaming ? this.requests : await this.singleRequest();
      if (this.finished) return;
      this.respond();
      await this.pipe(
        this.route.implementation(input as never, { signal: this.abort.signal } as HandlerContext),
      );
    } catch (error) {
      this.flush();
      this.finish(ConnectError.from(error));
      return;
    }
    this.flush();
    this.finish(undefined);
  }

  /** The one request of a server-streaming call, once the request ended: connect's `ensureSingle`. */
  private async singleRequest(): Promise<unknown> {
    const iterator = this.requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done === true) {
      throw new ConnectError(
        "protocol error: missing input message for server-streaming method",
        Code.Unimplemented,
      );
    }
    const second = await iterator.next();
    if (second.done !== true) {
      throw new ConnectError(
        "protocol error: received extra input message for server-streaming method",
        Code.Unimplemented,
      );
    }
    return first.value;
  }

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respond(this.response.headers, RESPOND_OPTIONS);
  }

  /** Writes the method's messages, taking none while the stream's buffer is full. */
  private async pipe(messages: AsyncIterable<unknown>): Promise<void> {
    const responses = messages[Symbol.asyncIterator]();
    const output = this.route.output;
    try {
      for (;;) {
        if (this.blocked) {
          await drained(this.stream);
          this.blocked = false;
          if (this.finished) return;
        }
        const result = await responses.next();
        if (result.done === true || this.finished) return;
        const framed = frameWatchResponse(output, result.value as never);
        this.pending.push(framed);
        this.pendingBytes += framed.byteLength;
        // Messages produced in the same tick are written together, after it.
        if (this.pendingBytes >= WRITE_BATCH_BYTES) this.flush();
        else if (!this.flushScheduled) {
          this.flushScheduled = true;
          process.nextTick(flushCall, this);
        }
      }
    } finally {
      if (this.finished) await responses.return?.();
    }
  }

  /** Writes what was gathered; a full buffer blocks the next message. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.finished) return;
    const pending = this.pending;
    const chunk = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(chunk)) this.blocked = true;
  }

  /** Ends the call with `error`'s trailers, or success, and reads nothing more of it. */
  private finish(error: ConnectError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.reader.stop();
    if (!this.stream.readableEnded) this.stream.pause();
    this.requests.discard();
    if (this.deadline !== undefined) this.context.watchdog.cancel(this.deadline);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      this.respond();
      endCall(
        stream,
        error === undefined ? SUCCESS_TRAILERS : trailersOf(error),
        undefined,
        this.context.logger,
        this.route.name,
      );
    } catch (writeError) {
      this.context.logger.debug({ err: writeError, procedure: this.route.name }, "call ended by the client");
    }
  }
}

function flushCall(call: WatchCall): void {
  call.flush();
}

/** Resolves when `stream` can take more, or is gone. */
function drained(stream: http2.ServerHttp2Stream): Promise<void> {
  // The buffer may have drained while the next message was awaited (the write that filled it
  // happens a tick after the message is taken): a 'drain' already emitted does not come again.
  if (!stream.writableNeedDrain || stream.destroyed || stream.closed) return Promise.resolve();
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
