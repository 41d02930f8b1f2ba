import type { IncomingMessage, ServerResponse } from "node:http";
import type * as http2 from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { boundDecompression, createDecompressionBudget } from "./bounded-decompression.js";
import type { BridgeServerLogger } from "./logger.js";
import { limitRequestBody } from "./request-size-limit.js";

/** The request and response encodings the server accepts, in its order of preference. */
export const ACCEPT_COMPRESSION = Object.freeze([compressionGzip, compressionBrotli]);

/** Options of {@link createRequestHandler}. */
export interface RequestHandlerOptions {
  /** Registers the services. */
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
  /** The largest request message, in bytes. */
  readonly maxRequestBytes: number;
  /** The bytes all requests being decompressed at once may inflate to. */
  readonly maxDecompressingBytes: number;
  /** Responses at least this large are compressed when the client accepts it. */
  readonly compressMinBytes: number;
  readonly logger: BridgeServerLogger;
}

/** A Node.js request listener for `http2.createServer`, HTTP/1.1 requests included. */
export type NodeRequestHandler = (
  request: http2.Http2ServerRequest | IncomingMessage,
  response: http2.Http2ServerResponse | ServerResponse,
) => void;

/**
 * Serves Connect, gRPC and gRPC-Web for the routed services. It does what connect-node's
 * `connectNodeAdapter` does, plus two things that adapter cannot: oversize requests are refused
 * as statebridge `resource_exhausted` errors before connect reads them (see
 * `limitRequestBody`; a message past the limit once decompressed too, see
 * `boundDecompression`, which also bounds what all requests inflate to at once), and failures of the transport are logged through the server's logger
 * rather than the console.
 */
export function createRequestHandler(options: RequestHandlerOptions): NodeRequestHandler {
  const { logger, maxRequestBytes } = options;
  const budget = createDecompressionBudget(options.maxDecompressingBytes);
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: maxRequestBytes,
    acceptCompression: ACCEPT_COMPRESSION.map((compression) =>
      boundDecompression(compression, budget, logger),
    ),
    compressMinBytes: options.compressMinBytes,
  });
  options.routes(router);
  const handlers = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) handlers.set(handler.requestPath, handler);

  return function handleRequest(request, response) {
    const url = request.url ?? "";
    const queryStart = url.indexOf("?");
    const handler = handlers.get(queryStart === -1 ? url : url.slice(0, queryStart));
    if (handler === undefined) {
      response.writeHead(404);
      response.end();
      return;
    }
    let universalRequest: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      universalRequest = universalRequestFromNodeRequest(request, response, undefined, undefined);
    } catch (error) {
      logger.debug({ err: error, url }, "request refused: not a well-formed HTTP request");
      response.writeHead(400);
      response.end();
      return;
    }
    const body = universalRequest.body;
    if (typeof body === "object" && body !== null && Symbol.asyncIterator in body) {
      universalRequest = {
        ...universalRequest,
        body: limitRequestBody(
          body as AsyncIterable<Uint8Array>,
          request.headers["content-type"],
          request.headers["content-length"],
          maxRequestBytes,
          logger,
        ),
      };
    }
    handler(universalRequest)
      .then((universalResponse) => universalResponseToNodeResponse(universalResponse, response))
      .catch((reason: unknown) => {
        const error = ConnectError.from(reason);
        // A client that goes away mid-call is ordinary; anything else is worth a look.
        if (error.code === Code.Aborted || error.code === Code.Canceled) {
          logger.debug({ procedure: handler.method.name, reason: error.message }, "call ended by the client");
          return;
        }
        logger.warn({ err: reason, procedure: handler.method.name }, "failed to write a response");
      });
  };
}
