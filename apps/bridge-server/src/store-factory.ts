import { createSessionStore, type SessionStore, type SessionStoreOptions } from "@statebridge/session-store";

/** The package of the Redis store: an optional peer, so that the default install has no Redis client. */
const REDIS_PACKAGE = "@statebridge/session-store-redis";

/** What `--store` accepts: `memory`, or a Redis URL (`redis://host:port/db`, `rediss://` for TLS). */
export const STORE_SYNTAX = "memory or redis://host:port/db";

/**
 * Whether `location` names a store {@link openSessionStore} can open.
 * @returns a message saying what is wrong, or `undefined` when it is well formed.
 */
export function checkStoreLocation(location: string): string | undefined {
  if (location === "memory") return undefined;
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return `must be ${STORE_SYNTAX}, got ${JSON.stringify(location.slice(0, 200))}`;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `must be ${STORE_SYNTAX}, got the scheme ${JSON.stringify(url.protocol.slice(0, 40))}`;
  }
  if (url.hostname === "") return `needs a host: ${STORE_SYNTAX}`;
  const database = url.pathname.replace(/^\//, "");
  if (database !== "" && !/^\d{1,5}$/.test(database)) {
    return `names the Redis database by number (redis://host:port/0), got ${JSON.stringify(database.slice(0, 40))}`;
  }
  return undefined;
}

/**
 * Opens the store `location` names, with the in-memory store's limits: the in-memory store for
 * `memory`, and for a Redis URL `@statebridge/session-store-redis`, loaded only then.
 * @throws an Error saying how to install the Redis package when it is missing, or what is
 *   wrong with `location`.
 */
export async function openSessionStore(
  location: string,
  options: SessionStoreOptions,
): Promise<SessionStore> {
  const problem = checkStoreLocation(location);
  if (problem !== undefined) throw new Error(`the store ${problem}`);
  if (location === "memory") return createSessionStore(options);
  let redis: typeof import("@statebridge/session-store-redis");
  try {
    redis = await import(REDIS_PACKAGE);
  } catch (error) {
    if (
      (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" &&
      String(error).includes(REDIS_PACKAGE)
    ) {
      throw new Error(
        `a Redis store needs the package ${REDIS_PACKAGE}, which is not installed: ` +
          `add it beside @statebridge/bridge-server (pnpm add ${REDIS_PACKAGE})`,
        { cause: error },
      );
    }
    throw error;
  }
  // The Redis store keeps no values in this process: the memory budget and the clock are the
  // in-memory store's alone.
  const { maxMemoryBytes: _memory, now: _clock, endedSessionsRemembered: _ended, ...limits } = options;
  return redis.createRedisSessionStore({ url: location, ...limits });
}
