import type { BridgeServerLogger } from "./logger.js";
import type { WirePath } from "./metrics.js";
import type { RpcSystem } from "./tracing.js";

/** The fields of one access-log line. */
export interface AccessLogEntry {
  /** `package.Service/Method`, or the request path when it names no known method. */
  readonly method: string;
  /** The gRPC status name: `OK`, `NOT_FOUND`, … */
  readonly code: string;
  /** From the call's headers to the end of its response, in milliseconds (to the microsecond). */
  readonly durationMs: number;
  /** The request's `session_id`, for unary calls that carry one. */
  readonly sessionId: string | undefined;
  readonly path: WirePath;
  readonly protocol: RpcSystem;
  /** The trace the call belongs to: its server span's, or the request's `traceparent`'s. */
  readonly traceId: string | undefined;
}

/** Whether `logger` writes debug lines; a logger that cannot tell is asked to write them. */
export function accessLogEnabled(logger: BridgeServerLogger): boolean {
  return logger.isLevelEnabled?.("debug") ?? true;
}

/**
 * Writes the access-log line of one call at `debug`: one JSON line per call, whichever wire
 * path served it, with the message `call`.
 */
export function writeAccessLog(logger: BridgeServerLogger, entry: AccessLogEntry): void {
  logger.debug(
    {
      method: entry.method,
      code: entry.code,
      durationMs: Math.round(entry.durationMs * 1000) / 1000,
      ...(entry.sessionId === undefined || entry.sessionId === "" ? {} : { sessionId: entry.sessionId }),
      path: entry.path,
      protocol: entry.protocol,
      ...(entry.traceId === undefined ? {} : { traceId: entry.traceId }),
    },
    "call",
  );
}
