import { describe } from "vitest";
import type { ComplianceContext } from "./context.js";
import { registerWatchClosingTests } from "./watch-closing.js";
import { registerWatchIdentityTests } from "./watch-identity.js";
import { registerWatchOrderingTests } from "./watch-ordering.js";
import { registerWatchResumeTests } from "./watch-resume.js";
import { registerWatcherTests } from "./watch-watchers.js";

/**
 * Registers the watch tests: every guarantee of the design's watching section that one backend
 * can show. Each test is skipped unless the backend declares `capabilities.watch`.
 */
export function describeWatch(context: ComplianceContext): void {
  describe("watch (capabilities.watch)", () => {
    registerWatchOrderingTests(context);
    registerWatchResumeTests(context);
    registerWatcherTests(context);
    registerWatchIdentityTests(context);
    registerWatchClosingTests(context);
  });
}
