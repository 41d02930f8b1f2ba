import { onTestFinished } from "vitest";
import type { SessionStore, SessionStoreOptions } from "../types.js";

/**
 * Makes a new, empty store with the given options: `(options) => Promise<SessionStore>`. Each
 * test calls it for its own store (with the limits it needs) and closes it when it ends; a
 * shared backend gives each store its own namespace (a Redis store: a fresh key prefix), so
 * that no two stores see each other's sessions. Malformed options must reject with
 * `invalid_value`. The suite never passes `now` or `maxMemoryBytes`.
 */
export type SessionStoreFactory = (options: SessionStoreOptions) => Promise<SessionStore>;

/** Options of {@link describeSessionStore}. */
export interface SessionStoreSuiteOptions {
  /**
   * The short TTL, in seconds, of the expiry tests: they wait (without touching it) for a
   * session to expire within 20 TTLs, or 10 seconds if longer. Default 0.5.
   */
  readonly ttlSeconds?: number;
  /** Per-test timeout in milliseconds. Default 30,000. */
  readonly timeoutMs?: number;
  /** How long a test waits for an expected event, end or expiry before it fails. Default 10,000. */
  readonly eventTimeoutMs?: number;
}

/** What every group of the store suite is given. */
export interface StoreSuiteContext {
  readonly name: string;
  readonly ttlSeconds: number;
  readonly timeoutMs: number;
  readonly eventTimeoutMs: number;
  /** A new store for the running test, closed when the test finishes whatever its outcome. */
  open(options?: SessionStoreOptions): Promise<SessionStore>;
  /** The factory itself, for tests of how it refuses options. */
  readonly factory: SessionStoreFactory;
}

/** Builds the context of {@link describeSessionStore}; call it directly to run one group. */
export function createStoreSuiteContext(
  name: string,
  factory: SessionStoreFactory,
  options: SessionStoreSuiteOptions = {},
): StoreSuiteContext {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    name,
    ttlSeconds: options.ttlSeconds ?? 0.5,
    timeoutMs,
    eventTimeoutMs: options.eventTimeoutMs ?? 10_000,
    factory,
    async open(storeOptions = {}) {
      const store = await factory(storeOptions);
      onTestFinished(() => store.close(), timeoutMs);
      return store;
    },
  };
}
