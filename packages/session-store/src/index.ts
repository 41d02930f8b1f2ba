export type { ChangeRecord, VariableChange } from "./change-record.js";
export { createSessionStore } from "./session-store.js";
export type {
  SessionInfo,
  SessionStore,
  SessionStoreOptions,
  SessionStoreStats,
  WatchEventBatch,
  WatchListener,
  WatchSubscription,
  WriteOptions,
} from "./types.js";
export { valueByteLength } from "./value-size.js";
