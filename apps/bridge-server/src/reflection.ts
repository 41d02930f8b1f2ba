import type { DescFile, DescService } from "@bufbuild/protobuf";
import { Code, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { ServerReflectionV1, ServerReflectionV1alpha } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";
import { createReflectionIndex, type ReflectionIndex } from "./reflection-index.js";
import { createRequestHandler, type NodeRequestHandler } from "./request-handler.js";
import type { StreamRegistry } from "./watch-registry.js";

/**
 * The bounds of one reflection stream. A reflection request names a file or a symbol: 16 KiB
 * is far more than any needs, and a client asks a few dozen questions at most.
 */
export const REFLECTION_LIMITS = Object.freeze({
  /** Largest reflection request message, in bytes; larger ones end the stream with `resource_exhausted`. */
  maxRequestBytes: 16 * 1024,
  /** Requests one stream may send; the next one ends it with `resource_exhausted`. */
  maxRequests: 1_000,
  /** A stream with no request for this long is ended with `unavailable`, in ms. */
  idleTimeoutMs: 60_000,
});

/** The reflection services, v1 first: clients try it before its deprecated first name v1alpha. */
export const REFLECTION_SERVICES: readonly DescService[] = Object.freeze([
  ServerReflectionV1,
  ServerReflectionV1alpha,
]);

const REFLECTION_PATH_PREFIXES = REFLECTION_SERVICES.map((service) => `/${service.typeName}/`);

/** Options of {@link withReflection}. */
export interface ReflectionOptions {
  /** The services to reflect besides reflection itself; their files and dependencies are served. */
  readonly services: readonly DescService[];
  /** Open long-lived streams: a shutdown ends reflection streams too. */
  readonly streams: StreamRegistry;
  /** Requests one stream may send. */
  readonly maxRequests: number;
  /** A stream with no request for this long is ended, in ms. */
  readonly idleTimeoutMs: number;
  /** Responses at least this large are compressed when the client accepts it. */
  readonly compressMinBytes: number;
  /** The interceptors every connect route gets. */
  readonly interceptors: Interceptor[];
  readonly logger: BridgeServerLogger;
}

/**
 * Serves `grpc.reflection.v1.ServerReflection` and `grpc.reflection.v1alpha.ServerReflection`
 * in front of `handler`, which gets every other request. Reflection has a request handler of its
 * own, so that its messages are held to {@link REFLECTION_LIMITS}.maxRequestBytes from the
 * envelope header, before they are buffered, rather than to the server's largest message.
 */
export function withReflection(handler: NodeRequestHandler, options: ReflectionOptions): NodeRequestHandler {
  const index = createReflectionIndex([...options.services, ...REFLECTION_SERVICES]);
  const method = createReflectionMethod(index, options);
  const reflectionHandler = createRequestHandler({
    logger: options.logger,
    maxRequestBytes: REFLECTION_LIMITS.maxRequestBytes,
    // Room for 64 largest reflection requests being inflated at once.
    maxDecompressingBytes: 64 * REFLECTION_LIMITS.maxRequestBytes,
    interceptors: options.interceptors,
    compressMinBytes: options.compressMinBytes,
    routes(router) {
      router.service(ServerReflectionV1, { serverReflectionInfo: method });
      router.service(ServerReflectionV1alpha, { serverReflectionInfo: method });
    },
  });
  return (request, response) => {
    const url = request.url ?? "";
    if (REFLECTION_PATH_PREFIXES.some((prefix) => url.startsWith(prefix)))
      reflectionHandler(request, response);
    else handler(request, response);
  };
}

/** What the method reads of a request, the same in v1 and v1alpha. */
interface ReflectionRequest {
  readonly host: string;
  readonly messageRequest:
    | {
        readonly case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType";
        readonly value: string;
      }
    | {
        readonly case: "fileContainingExtension";
        readonly value: { readonly containingType: string; readonly extensionNumber: number };
      }
    | { readonly case: "listServices"; readonly value: string }
    | { readonly case: undefined; readonly value?: undefined };
}

/** The answer to one request, as v1's and v1alpha's response messages both take it. */
interface ReflectionResponse {
  readonly validHost: string;
  readonly originalRequest: ReflectionRequest;
  readonly messageResponse:
    | { readonly case: "fileDescriptorResponse"; readonly value: { fileDescriptorProto: Uint8Array[] } }
    | {
        readonly case: "allExtensionNumbersResponse";
        readonly value: { baseTypeName: string; extensionNumber: number[] };
      }
    | { readonly case: "listServicesResponse"; readonly value: { service: { name: string }[] } }
    | { readonly case: "errorResponse"; readonly value: { errorCode: number; errorMessage: string } };
}

/**
 * Implements `ServerReflectionInfo`: each request is answered in order; a name the schema does
 * not hold is answered by an `error_response` (NOT_FOUND) and the stream goes on. The stream
 * ends with `resource_exhausted` at its request limit and with `unavailable` when idle or at
 * shutdown. A file is sent with those of its dependencies not sent before on the stream.
 */
function createReflectionMethod(index: ReflectionIndex, options: ReflectionOptions) {
  const { streams, logger, maxRequests, idleTimeoutMs } = options;

  function answer(request: ReflectionRequest, sent: Set<DescFile>): ReflectionResponse["messageResponse"] {
    const files = (file: DescFile | undefined, what: string): ReflectionResponse["messageResponse"] =>
      file === undefined
        ? notFound(what)
        : {
            case: "fileDescriptorResponse",
            value: { fileDescriptorProto: index.withDependencies(file, sent) },
          };
    const asked = request.messageRequest;
    switch (asked.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: index.serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename":
        return files(index.fileByName(asked.value), `file ${quote(asked.value)}`);
      case "fileContainingSymbol":
        return files(index.fileContainingSymbol(asked.value), `symbol ${quote(asked.value)}`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = asked.value;
        return files(
          index.fileContainingExtension(containingType, extensionNumber),
          `extension ${extensionNumber} of ${quote(containingType)}`,
        );
      }
      case "allExtensionNumbersOfType": {
        const numbers = index.extensionNumbersOf(asked.value);
        if (numbers === undefined) return notFound(`message type ${quote(asked.value)}`);
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: asked.value, extensionNumber: [...numbers] },
        };
      }
      default:
        return {
          case: "errorResponse",
          value: {
            errorCode: Code.InvalidArgument,
            errorMessage: "the request asks nothing: set message_request",
          },
        };
    }
  }

  return async function* serverReflectionInfo(
    requests: AsyncIterable<ReflectionRequest>,
    _context: HandlerContext,
  ): AsyncGenerator<ReflectionResponse> {
    const iterator = requests[Symbol.asyncIterator]();
    const sent = new Set<DescFile>();
    let endedWith: StateError | undefined;
    let interrupt: ((error: StateError) => void) | undefined;
    const unregister = streams.add((error) => {
      endedWith = error;
      interrupt?.(error);
    });
    /** The next request, or the error that ends the stream: idle too long, or shutdown. */
    const nextRequest = () =>
      new Promise<IteratorResult<ReflectionRequest>>((resolve, reject) => {
        if (endedWith !== undefined) {
          reject(endedWith);
          return;
        }
        const timer = setTimeout(() => {
          logger.debug({ idleTimeoutMs }, "reflection stream ended: idle");
          reject(
            new StateError(
              "unavailable",
              `no reflection request for ${idleTimeoutMs} ms: the stream is closed, open another`,
            ),
          );
        }, idleTimeoutMs);
        interrupt = (error) => {
          clearTimeout(timer);
          reject(error);
        };
        iterator.next().then(
          (result) => {
            clearTimeout(timer);
            interrupt = undefined;
            resolve(result);
          },
          (error: unknown) => {
            clearTimeout(timer);
            interrupt = undefined;
            reject(error);
          },
        );
      });
    try {
      for (let count = 1; ; count++) {
        const next = await nextRequest();
        if (next.done === true) return;
        if (count > maxRequests) {
          logger.debug({ maxRequests }, "reflection stream ended: request limit");
          throw new StateError(
            "resource_exhausted",
            `a reflection stream takes at most ${maxRequests} requests: open another`,
          );
        }
        const request = next.value;
        yield { validHost: request.host, originalRequest: request, messageResponse: answer(request, sent) };
      }
    } catch (error) {
      throw toConnectError(error, logger, { procedure: "ServerReflectionInfo" });
    } finally {
      interrupt = undefined;
      unregister();
    }
  };
}

function notFound(what: string): ReflectionResponse["messageResponse"] {
  return {
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: `${what} is not part of this server's schema` },
  };
}

/** A name from the request, quoted and cut to 100 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
