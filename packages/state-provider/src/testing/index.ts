import { describe } from "vitest";
import { describeBatches } from "./batches.js";
import { describeCompareAndSet } from "./compare-and-set.js";
import { describeConstraints } from "./constraints.js";
import { type ComplianceOptions, createComplianceContext, type ProviderFactory } from "./context.js";
import { describeDistribution } from "./distribution.js";
import { describeExportImport } from "./export-import.js";
import { describeIdentifiers } from "./identifiers.js";
import { describeLifecycle } from "./lifecycle.js";
import { describeLimits } from "./limits.js";
import { describeList } from "./list.js";
import { describeProperties } from "./properties.js";
import { describeTypes } from "./types.js";
import { describeVariables } from "./variables.js";
import { describeWatch } from "./watch.js";

/**
 * Registers the whole compliance suite of the StateProvider contract as a vitest `describe`
 * block named after the backend. Every backend runs all of it; a test is skipped only when the
 * provider does not declare the capability it needs (named in the test's title).
 *
 * The suite owns setup and cleanup: each test gets a fresh provider from `factory` (and a
 * second, independent one where it needs to import into an empty session), and closes it when
 * the test ends, then runs `options.cleanup`. The factory must give a provider on a new, empty
 * session each time.
 *
 * Watch tests wait for events with a deadline (`options.eventTimeoutMs`) and never assume when
 * an event arrives, so the suite also runs against a backend behind a network. A backend that
 * declares `linearizableReads: false` (a near cache) is held to eventual visibility of another
 * provider's writes within that deadline, and strictly to read-your-writes and monotonic reads.
 *
 * @example
 * ```ts
 * // test/compliance.test.ts
 * import { describeStateProvider } from "@statebridge/state-provider/testing";
 * import { createLocalState } from "../src/index.js";
 *
 * describeStateProvider("LocalState", () => createLocalState());
 * ```
 */
export function describeStateProvider(
  name: string,
  factory: ProviderFactory,
  options: ComplianceOptions = {},
): void {
  const context = createComplianceContext(name, factory, options);
  describe(name, { timeout: context.timeoutMs }, () => {
    describeLifecycle(context);
    describeVariables(context);
    describeIdentifiers(context);
    describeTypes(context);
    describeConstraints(context);
    describeCompareAndSet(context);
    describeBatches(context);
    describeList(context);
    describeExportImport(context);
    describeWatch(context);
    describeDistribution(context);
    describeProperties(context);
    describeLimits(context);
  });
}

export { describeBatches } from "./batches.js";
export { describeCompareAndSet } from "./compare-and-set.js";
export { describeConstraints } from "./constraints.js";
export type { ComplianceContext, ComplianceOptions, ProviderFactory } from "./context.js";
export {
  createComplianceContext,
  DEFAULT_PROPERTY_RUNS,
  DEFAULT_TIMEOUT_MS,
} from "./context.js";
export { describeDistribution } from "./distribution.js";
export { describeExportImport } from "./export-import.js";
export { describeIdentifiers } from "./identifiers.js";
export { describeLifecycle } from "./lifecycle.js";
export { describeLimits } from "./limits.js";
export { describeList } from "./list.js";
export { describeProperties } from "./properties.js";
export type { EventRecorder } from "./support.js";
export { expectStateError, recordEvents, waitFor } from "./support.js";
export type { OperationRecorder } from "./telemetry.js";
export { describeOperationTelemetry, recordOperations } from "./telemetry.js";
export { describeTypes } from "./types.js";
export { describeVariables } from "./variables.js";
export { describeWatch } from "./watch.js";
export { expectOrderedAndUnique } from "./watch-support.js";
