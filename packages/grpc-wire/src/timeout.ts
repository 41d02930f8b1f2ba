import type { ConnectError } from "@connectrpc/connect";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";

/**
 * The longest delay a Node timer takes, 2^31 − 1 ms (about 24.8 days): a longer one fires
 * after 1 ms, with a `TimeoutOverflowWarning`. Every delay that comes from the wire is
 * clamped to it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest `grpc-timeout` a client writes in milliseconds: the header takes at most 8 digits. */
const MAX_TIMEOUT_DIGITS = 99_999_999;

/** What a `grpc-timeout` header says. */
export interface GrpcTimeout {
  /** The deadline in milliseconds from now; `undefined` when there is none. */
  readonly timeoutMs: number | undefined;
  /** Why the header is invalid (connect's error, in its words); the call must be refused. */
  readonly error?: ConnectError;
}

/**
 * Parses a `grpc-timeout` header as connect does (`1` to `99999999` followed by a unit of
 * `H`, `M`, `S`, `m`, `u` or `n`). A valid timeout longer than {@link MAX_TIMER_MS} (up to
 * 99999999H, eleven thousand years, is valid per the gRPC spec) is no deadline at all: no
 * timer could wait that long, and one that tried would fire at once and again every millisecond.
 */
export function parseGrpcTimeout(header: string | undefined): GrpcTimeout {
  if (header === undefined) return NO_TIMEOUT;
  // A client sends the same header call after call: the last valid one is parsed once.
  if (header === lastHeader) return lastTimeout;
  const parsed = parseTimeout(header, Number.MAX_SAFE_INTEGER);
  if (parsed.error !== undefined) return { timeoutMs: undefined, error: parsed.error };
  const { timeoutMs } = parsed;
  const timeout =
    timeoutMs === undefined || timeoutMs > MAX_TIMER_MS ? NO_TIMEOUT : Object.freeze({ timeoutMs });
  lastHeader = header;
  lastTimeout = timeout;
  return timeout;
}

const NO_TIMEOUT: GrpcTimeout = Object.freeze({ timeoutMs: undefined });
let lastHeader: string | undefined;
let lastTimeout: GrpcTimeout = NO_TIMEOUT;

/** The `grpc-timeout` header of a deadline `timeoutMs` from now: whole milliseconds, at least 1. */
export function formatGrpcTimeout(timeoutMs: number): string {
  const milliseconds = Math.max(1, Math.ceil(timeoutMs));
  // A client's calls mostly carry its one deadline: the last header is built once.
  if (milliseconds === lastFormattedMs) return lastFormatted;
  lastFormattedMs = milliseconds;
  lastFormatted =
    milliseconds <= MAX_TIMEOUT_DIGITS
      ? `${milliseconds}m`
      : `${Math.min(MAX_TIMEOUT_DIGITS, Math.ceil(milliseconds / 1000))}S`;
  return lastFormatted;
}

let lastFormattedMs = 0;
let lastFormatted = "";
