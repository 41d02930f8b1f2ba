export type { SessionKeys } from "./keys.js";
export { escapeSessionId, sessionIndexKey, sessionKeys } from "./keys.js";
export { createRedisSessionStore } from "./redis-store.js";
export type { RedisSessionStoreOptions } from "./types.js";
