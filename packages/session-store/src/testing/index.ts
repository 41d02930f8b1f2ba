import { describe } from "vitest";
import { describeBatches } from "./batches.js";
import {
  createStoreSuiteContext,
  type SessionStoreFactory,
  type SessionStoreSuiteOptions,
} from "./context.js";
import { describeExpiry } from "./expiry.js";
import { describeExportImport } from "./export-import.js";
import { describeListSessions } from "./list-sessions.js";
import { describeSessions } from "./sessions.js";
import { describeValueDecoders } from "./value-decoders.js";
import { describeVariables } from "./variables.js";
import { describeWatch } from "./watch.js";
import { describeWatchResume } from "./watch-resume.js";

/**
 * Registers the SessionStore compliance suite as a vitest `describe` block named `name`: every
 * store (in memory, on Redis, …) passes all of it. `factory(options)` returns a promise of a
 * new, empty store with those options; each test makes its own store(s) with the limits it needs
 * and closes them when it ends, so a shared backend must give every store a namespace of its own
 * (a Redis store: a fresh key prefix). Nothing is timed: expiry uses short real TTLs
 * (`options.ttlSeconds`) on the backend's clock, and events are awaited with a deadline.
 *
 * @example
 * ```ts
 * import { describeSessionStore } from "@statebridge/session-store/testing";
 * describeSessionStore("in-memory store", async (options) => createSessionStore(options));
 * ```
 */
export function describeSessionStore(
  name: string,
  factory: SessionStoreFactory,
  options: SessionStoreSuiteOptions = {},
): void {
  const context = createStoreSuiteContext(name, factory, options);
  describe(name, { timeout: context.timeoutMs }, () => {
    describeSessions(context);
    describeExpiry(context);
    describeListSessions(context);
    describeVariables(context);
    describeBatches(context);
    describeValueDecoders(context);
    describeExportImport(context);
    describeWatch(context);
    describeWatchResume(context);
  });
}

export { describeBatches } from "./batches.js";
export type { SessionStoreFactory, SessionStoreSuiteOptions, StoreSuiteContext } from "./context.js";
export { createStoreSuiteContext } from "./context.js";
export { describeExpiry } from "./expiry.js";
export { describeExportImport } from "./export-import.js";
export { describeListSessions } from "./list-sessions.js";
export { describeSessions } from "./sessions.js";
export { createStoreProvider } from "./store-provider.js";
export type { RecordingListener } from "./support.js";
export { recordingListener, summary, waitUntilExpired } from "./support.js";
export { describeValueDecoders } from "./value-decoders.js";
export { describeVariables } from "./variables.js";
export { describeWatch } from "./watch.js";
export { describeWatchResume } from "./watch-resume.js";
