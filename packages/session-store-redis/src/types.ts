import type { SessionStoreOptions, StoreLimitOptions } from "@statebridge/session-store";

/**
 * Options of {@link createRedisSessionStore}: where Redis is, the key namespace, and the
 * in-memory store's limits (the same defaults), applied to the shared sessions.
 */
export interface RedisSessionStoreOptions
  extends StoreLimitOptions,
    Pick<SessionStoreOptions, "ttlSeconds" | "sweepIntervalMs" | "onListenerError"> {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * The namespace of every key: stores with the same prefix on one Redis share sessions.
   * 1 to 128 characters without braces. Default `statebridge`.
   */
  readonly keyPrefix?: string;
  /** Deadline of every Redis command; a call past it fails with `unavailable`. Default 2,000 ms. */
  readonly commandTimeoutMs?: number;
  /** How long the factory waits for the first connection before it returns anyway. Default 5,000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How often a watched session's TTL is slid and its existence checked by each server
   * watching it (and how long one blocking read lasts). Default: a quarter of the TTL, at most 1,000 ms.
   */
  readonly watchIntervalMs?: number;
  /** How long the reason a session ended (expired, deleted) is remembered. Default 3,600,000 ms. */
  readonly endedRememberedMs?: number;
}
