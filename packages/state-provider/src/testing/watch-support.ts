import { expect } from "vitest";
import type { StateProvider } from "../provider.js";
import type { WatchEvent } from "../watch.js";
import type { ComplianceContext } from "./context.js";

/**
 * Checks the ordering guarantees over one watcher's events: revisions never go back; for each
 * variable, versions go up by exactly one from change to change; no (variable, revision) pair
 * is delivered twice.
 */
export function expectOrderedAndUnique(events: readonly WatchEvent[]): void {
  const seen = new Set<string>();
  const lastVersion = new Map<string, number>();
  let lastRevision = Number.NEGATIVE_INFINITY;
  for (const [index, event] of events.entries()) {
    const where = `event ${index} (${event.type} ${event.identifier} v${event.version} r${event.revision})`;
    expect(event.revision, `${where}: revisions never go back`).toBeGreaterThanOrEqual(lastRevision);
    lastRevision = event.revision;
    const key = `${event.id}@${event.revision}`;
    expect(seen.has(key), `${where}: delivered once`).toBe(false);
    seen.add(key);
    const previous = lastVersion.get(event.id);
    if (event.type === "value_change" && previous !== undefined) {
      expect(event.version, `${where}: the next version of ${event.name}`).toBe(previous + 1);
    }
    lastVersion.set(event.id, event.version);
  }
}

/** The parts of an event that identify which change it reports. */
export function changeOf(event: WatchEvent): string {
  return `${event.type} ${event.id} v${event.version} r${event.revision}`;
}

/**
 * Opens the test's provider and skips the test unless the provider declares
 * `capabilities.watch`, as every watch test of the suite needs it.
 */
export async function openWatching(
  context: ComplianceContext,
  test: Parameters<ComplianceContext["open"]>[0],
): Promise<StateProvider> {
  const provider = await context.open(test);
  context.requires(test, provider, "watch");
  return provider;
}
