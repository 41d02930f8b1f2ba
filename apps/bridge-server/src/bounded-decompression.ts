import * as zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { StateError } from "@statebridge/state-provider";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";
import { oversizeRequestError } from "./request-size-limit.js";

/** The bytes all requests being decompressed at once may inflate to, shared by the server's compressions. */
export interface DecompressionBudget {
  /** The budget, in bytes. */
  readonly limitBytes: number;
  /** Bytes inflated by decompressions still running. */
  readonly usedBytes: number;
  /** Takes `bytes` if they fit. @returns false, taking nothing, when they do not. */
  take(bytes: number): boolean;
  /** Gives back bytes taken. */
  give(bytes: number): void;
}

/** Creates a {@link DecompressionBudget} of `limitBytes`. */
export function createDecompressionBudget(limitBytes: number): DecompressionBudget {
  let usedBytes = 0;
  return {
    limitBytes,
    get usedBytes() {
      return usedBytes;
    },
    take(bytes) {
      if (usedBytes + bytes > limitBytes) return false;
      usedBytes += bytes;
      return true;
    },
    give(bytes) {
      usedBytes -= bytes;
    },
  };
}

type Inflater = () => zlib.Gunzip | zlib.BrotliDecompress;

const INFLATERS: ReadonlyMap<string, Inflater> = new Map<string, Inflater>([
  ["gzip", () => zlib.createGunzip()],
  ["br", () => zlib.createBrotliDecompress()],
]);

/**
 * Wraps one of connect's compressions (gzip or br) so that decompression is bounded twice: a
 * message past `readMaxBytes` once inflated is refused as every other oversize request is (with
 * the statebridge code and ErrorDetail, which connect's own error lacks), and all requests
 * being inflated at once share `budget`, so that many small gzip bombs in parallel cannot make
 * the server hold many times the largest message. Inflation is streamed and stops at the
 * first chunk past either bound; a request refused for the shared budget gets
 * `resource_exhausted` and may be retried. Corrupt input is answered as connect answers it.
 */
export function boundDecompression(
  compression: Compression,
  budget: DecompressionBudget,
  logger: BridgeServerLogger,
): Compression {
  const inflater = INFLATERS.get(compression.name);
  if (inflater === undefined) throw new Error(`no bounded decompression for ${compression.name}`);
  return {
    name: compression.name,
    compress: (bytes) => compression.compress(bytes),
    decompress(bytes, readMaxBytes) {
      if (bytes.byteLength === 0) return Promise.resolve(new Uint8Array(new ArrayBuffer(0)));
      return inflate(inflater(), bytes, readMaxBytes, budget, logger);
    },
  };
}

function inflate(
  stream: zlib.Gunzip | zlib.BrotliDecompress,
  bytes: Uint8Array,
  readMaxBytes: number,
  budget: DecompressionBudget,
  logger: BridgeServerLogger,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let taken = 0;
    let settled = false;
    const settle = (error: ConnectError | undefined): void => {
      if (settled) return;
      settled = true;
      budget.give(taken);
      if (error !== undefined) {
        chunks.length = 0;
        stream.destroy();
        reject(error);
        return;
      }
      // One copy into a buffer of its own: never a view of a pooled allocation.
      const message = new Uint8Array(taken);
      let offset = 0;
      for (const chunk of chunks) {
        message.set(chunk, offset);
        offset += chunk.byteLength;
      }
      chunks.length = 0;
      resolve(message);
    };
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      if (taken + chunk.byteLength > readMaxBytes) {
        settle(oversizeRequestError(readMaxBytes, false, readMaxBytes, logger));
        return;
      }
      if (!budget.take(chunk.byteLength)) {
        settle(
          toConnectError(
            new StateError(
              "resource_exhausted",
              `requests being decompressed at once would hold more than the server's limit of ` +
                `${budget.limitBytes} bytes (--max-decompressing-bytes); retry later`,
            ),
            logger,
          ),
        );
        return;
      }
      taken += chunk.byteLength;
      chunks.push(chunk);
    });
    stream.once("end", () => settle(undefined));
    stream.once("error", (error: NodeJS.ErrnoException) => settle(zlibError(error)));
    stream.end(bytes);
  });
}

/** The error connect answers for corrupt compressed input, in its words and codes. */
function zlibError(error: NodeJS.ErrnoException): ConnectError {
  const code = error.code ?? "";
  const invalid =
    code === "Z_DATA_ERROR" || code === "ERR_PADDING_2" || code.startsWith("ERR__ERROR_FORMAT_");
  return new ConnectError(
    "decompression failed",
    invalid ? Code.InvalidArgument : Code.Internal,
    undefined,
    undefined,
    error,
  );
}
