import type { Transport } from "@connectrpc/connect";
import { createSessionId, describe, StateError } from "@statebridge/state-provider";
import type { RetryOptions } from "./call-policy.js";
import type { NearCacheOptions } from "./near-cache.js";
import type { BridgedTlsOptions } from "./tls-options.js";
import { normalizeServerUrl } from "./transport.js";
import type { BridgedWatchOptions } from "./watch.js";

/** Options of {@link createBridgedState}. */
export interface BridgedStateOptions {
  /** The bridge-server's address: `http://host:port`, `https://host:port` (TLS), or a bare `host:port`. */
  readonly url: string;
  /** The session to use; created if it does not exist. Default: a new `session_…` id. */
  readonly sessionId?: string;
  /** Bearer token, if the server requires one. */
  readonly token?: string;
  /** The writer's name recorded with every change. Default `"typescript"`. */
  readonly source?: string;
  /** Deadline of every call, retries included, in milliseconds. Default 5,000. */
  readonly deadlineMs?: number;
  /** How reads are retried while the server is unavailable. */
  readonly retry?: RetryOptions;
  /** HTTP/2 keepalive PING interval for long-lived watch streams, in ms. Default 15,000. */
  readonly pingIntervalMs?: number;
  /** How watch streams are carried, kept alive and reopened; see {@link BridgedWatchOptions}. */
  readonly watch?: BridgedWatchOptions;
  /**
   * The largest message accepted from the server, in bytes (a response, or a watch event):
   * a larger one fails its call, or ends its watch, with `resource_exhausted` naming the limit,
   * before its bytes are buffered. Default 256 MiB: a watch event carries a value and the value
   * it replaced, each up to the server's 64 MiB. Not applied to a `transport` you give.
   */
  readonly maxReceiveBytes?: number;
  /**
   * An existing Connect transport to use instead of opening a connection to `url` (to embed
   * the provider, or in tests). The provider does not close a transport it did not create.
   */
  readonly transport?: Transport;
  /**
   * For an `https://` URL: CA certificates to trust instead of the system's (a private CA), and
   * a client certificate and key for a server that requires one (mutual TLS). PEM. Not applied
   * to a `transport` you give.
   */
  readonly tls?: BridgedTlsOptions;
  /**
   * Keep the variables this provider reads current through a watch, so that reading them
   * again never leaves the process (`true`, or options). Reads stay monotonic and see this
   * provider's own writes; writes made elsewhere show once the watch delivers them, so
   * `capabilities.linearizableReads` is false. `get(…, { fresh: true })` asks the server.
   * Default off. See the README's "Near cache".
   */
  readonly cache?: boolean | NearCacheOptions;
}

/** The defaults of {@link BridgedStateOptions}. */
export const BRIDGED_STATE_DEFAULTS = Object.freeze({
  source: "typescript",
  deadlineMs: 5_000,
  retry: Object.freeze({ attempts: 4, baseDelayMs: 50, maxDelayMs: 1_000 }),
  maxReceiveBytes: 256 * 1024 * 1024,
});

/** {@link BridgedStateOptions}, checked and with their defaults filled in. */
export interface BridgedSettings {
  readonly url: string;
  readonly sessionId: string;
  readonly source: string;
  readonly deadlineMs: number;
  readonly retry: Required<RetryOptions>;
  readonly token?: string;
  readonly pingIntervalMs?: number;
  readonly watch?: BridgedWatchOptions;
  readonly maxReceiveBytes: number;
  readonly tls?: BridgedTlsOptions;
  readonly cache?: NearCacheOptions;
}

/**
 * Checks the options of `createBridgedState` and fills in their defaults.
 *
 * @throws `invalid_value` naming the first malformed option.
 */
export function resolveOptions(options: BridgedStateOptions): BridgedSettings {
  if (typeof options !== "object" || options === null) {
    throw new StateError(
      "invalid_value",
      `createBridgedState needs an options object, got ${describe(options)}`,
    );
  }
  if (typeof options.url !== "string" || options.url.trim() === "") {
    throw new StateError(
      "invalid_value",
      `url must be the bridge-server's address, got ${describe(options.url)}`,
    );
  }
  const retry = { ...BRIDGED_STATE_DEFAULTS.retry, ...options.retry };
  checkPositive("deadlineMs", options.deadlineMs);
  checkPositive("retry.attempts", retry.attempts);
  checkPositive("retry.baseDelayMs", retry.baseDelayMs);
  checkPositive("retry.maxDelayMs", retry.maxDelayMs);
  checkPositive("pingIntervalMs", options.pingIntervalMs);
  checkPositive("maxReceiveBytes", options.maxReceiveBytes);
  const cache = resolveCache(options.cache);
  const settings: BridgedSettings = {
    url: normalizeServerUrl(options.url),
    sessionId: options.sessionId ?? createSessionId(),
    source: options.source ?? BRIDGED_STATE_DEFAULTS.source,
    deadlineMs: options.deadlineMs ?? BRIDGED_STATE_DEFAULTS.deadlineMs,
    retry,
    maxReceiveBytes: Math.floor(options.maxReceiveBytes ?? BRIDGED_STATE_DEFAULTS.maxReceiveBytes),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(cache === undefined ? {} : { cache }),
  };
  return settings;
}

function resolveCache(cache: BridgedStateOptions["cache"]): NearCacheOptions | undefined {
  if (cache === undefined || cache === false) return undefined;
  if (cache === true) return {};
  if (typeof cache !== "object" || cache === null) {
    throw new StateError("invalid_value", `cache must be a boolean or an object, got ${describe(cache)}`);
  }
  return cache;
}

function checkPositive(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new StateError("invalid_value", `${name} must be a positive number, got ${describe(value)}`);
  }
}
