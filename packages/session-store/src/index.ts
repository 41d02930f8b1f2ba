export { partialFailure } from "./batch-failure.js";
export type { ChangeRecord, VariableChange } from "./change-record.js";
export { parseImportBatch } from "./import-batch.js";
export type { StoreLimitOptions, StoreLimitSettings } from "./memory-store-options.js";
export { resolveStoreLimits } from "./memory-store-options.js";
export type { Observer, ObserverRegistry } from "./observer-registry.js";
export { createObserverRegistry } from "./observer-registry.js";
export { checkSessionId } from "./session-id.js";
export { createSessionStore } from "./session-store.js";
export { snapshotEvent } from "./snapshot-event.js";
export type { PageOptions } from "./store-options.js";
export {
  checkPageOptions,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  nonNegativeInteger,
  positive,
  positiveInteger,
  sourceOf,
} from "./store-options.js";
export type {
  SessionInfo,
  SessionPage,
  SessionStore,
  SessionStoreOptions,
  SessionStoreStats,
  StoreDescription,
  ValueDecoder,
  WatchEventBatch,
  WatchListener,
  WatchSubscription,
  WriteOptions,
} from "./types.js";
export type { DecodedBatch } from "./value-decoder.js";
export { decodeBatch, decodeValue } from "./value-decoder.js";
export { jsonByteLength, RECORD_OVERHEAD_BYTES, valueByteLength } from "./value-size.js";
export { checkValueSize } from "./variable-size.js";
