export type {
  DeliveryQueue,
  DeliveryQueueOptions,
  DeliveryScheduler,
  DeliverySchedulerOptions,
} from "./delivery-queue.js";
export { createDeliveryScheduler } from "./delivery-queue.js";
export type { ChangeKey, IndexedObserver, ObserverIndex } from "./observer-index.js";
export { createObserverIndex } from "./observer-index.js";
export type { Revisioned, RevisionHistory, RevisionHistoryOptions } from "./revision-history.js";
export { createRevisionHistory } from "./revision-history.js";
