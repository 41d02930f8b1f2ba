import { describe, expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import { valuesEqual } from "../type-system.js";
import type { VariableValue } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, recordEvents } from "./support.js";
import { expectOrderedAndUnique } from "./watch-support.js";

/**
 * Checks that `reader` sees `expected` under `identifier`, written by another provider: at once
 * if it declares `linearizableReads`, else within `timeoutMs` (a near cache hears of the write
 * through its watch), never skipping the check.
 */
async function expectVisible(
  reader: StateProvider,
  identifier: string,
  expected: VariableValue,
  timeoutMs: number,
): Promise<void> {
  if (reader.capabilities.linearizableReads) {
    expect(await reader.get(identifier)).toEqual(expected);
    return;
  }
  // A deadline, not a number of tries: how soon the cache hears of it is the watch's business.
  const deadline = Date.now() + timeoutMs;
  let last = await reader.get(identifier);
  while (!valuesEqual(last, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    last = await reader.get(identifier);
  }
  expect(last, `${identifier} as another provider wrote it`).toEqual(expected);
}

/**
 * Registers the tests of a session shared by several providers (`options.makeSecond`); each is
 * skipped unless the backend declares `capabilities.distribution`.
 */
export function describeDistribution(context: ComplianceContext): void {
  describe("distribution (capabilities.distribution)", () => {
    it("a second provider on the same session reads what the first wrote, and writes back; at once with capabilities.linearizableReads, else within a bounded wait (capabilities.distribution)", async (test) => {
      const first = await context.open(test);
      context.requires(test, first, "distribution");
      const second = await context.openSecond(test, first);
      expect(second.sessionId).toBe(first.sessionId);
      const { id } = await first.register("shared", "embedding", [1, 2, 3]);
      expect(await second.get("shared")).toEqual([1, 2, 3]);
      expect(await second.get(id)).toEqual([1, 2, 3]);
      // Read first (and again a little later), so that a provider that caches holds the value
      // the second one replaces.
      expect(await first.get(id)).toEqual([1, 2, 3]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await first.get(id)).toEqual([1, 2, 3]);
      expect(await second.set("shared", [4, 5])).toBe(1);
      await expectVisible(first, id, [4, 5], context.eventTimeoutMs);
      await expectVisible(first, "shared", [4, 5], context.eventTimeoutMs);
      for (let value = 6; value <= 15; value++) {
        await second.set("shared", [value]);
        await expectVisible(first, "shared", [value], context.eventTimeoutMs);
      }
      await expectStateError(() => second.register("shared", "integer", 0), "already_exists");
      if (second.capabilities.compareAndSet) {
        await expectStateError(() => first.set("shared", [6], { expectedVersion: 0 }), "version_conflict");
      }
    });

    it("each provider reads its own writes at once and its reads never go back, while the other writes the same variable (capabilities.distribution)", async (test) => {
      const first = await context.open(test);
      context.requires(test, first, "distribution");
      const second = await context.openSecond(test, first);
      await first.register("shared", "integer", 0);
      // Both read it, so that a provider that caches holds it while the other writes.
      await first.get("shared");
      await second.get("shared");
      const check = async (own: StateProvider, values: readonly number[]) => {
        let lastVersion = -1;
        for (const value of values) {
          const version = await own.set("shared", value);
          const read = await own.getVariable("shared");
          // Another provider may have written since: never older than the own write, though.
          expect(read.version, "a read right after the provider's own write").toBeGreaterThanOrEqual(version);
          if (read.version === version) expect(read.value).toBe(value);
          expect(read.version, "a read after an earlier one").toBeGreaterThanOrEqual(lastVersion);
          lastVersion = read.version;
          const again = await own.getVariable("shared");
          expect(again.version, "a read after an earlier one").toBeGreaterThanOrEqual(lastVersion);
          lastVersion = again.version;
        }
      };
      await Promise.all([
        check(
          first,
          Array.from({ length: 30 }, (_, index) => index + 1),
        ),
        check(
          second,
          Array.from({ length: 30 }, (_, index) => 1001 + index),
        ),
      ]);
      const final = await first.getVariable("shared", { fresh: true });
      expect(final.version).toBe(60);
      await expectVisible(second, "shared", final.value, context.eventTimeoutMs);
      await expectVisible(first, "shared", final.value, context.eventTimeoutMs);
    });

    it("a watcher on one provider sees the changes made through the other, in order (capabilities.distribution, capabilities.watch)", async (test) => {
      const first = await context.open(test);
      context.requires(test, first, "distribution");
      context.requires(test, first, "watch");
      const second = await context.openSecond(test, first);
      await first.register("shared", "integer", 0);
      const recorder = recordEvents();
      await first.watch(["shared"], recorder.watcher);
      await Promise.all([
        (async () => {
          for (let value = 1; value <= 20; value++) await first.set("shared", value);
        })(),
        (async () => {
          for (let value = 101; value <= 120; value++) await second.set("shared", value);
        })(),
      ]);
      await recorder.waitForCount(40, context.eventTimeoutMs);
      expectOrderedAndUnique(recorder.events);
      expect(recorder.events.map((event) => event.version)).toEqual(
        Array.from({ length: 40 }, (_, index) => index + 1),
      );
    });

    it("when the first provider closes, the second goes on and the first's watchers get nothing more (capabilities.distribution, capabilities.watch)", async (test) => {
      const first = await context.open(test);
      context.requires(test, first, "distribution");
      context.requires(test, first, "watch");
      const second = await context.openSecond(test, first);
      await first.register("shared", "integer", 0);
      const closed = recordEvents();
      const handle = await first.watch(["shared"], closed.watcher);
      await first.close();
      expect(await handle.done).toBeUndefined();
      const live = recordEvents();
      await second.watch(["shared"], live.watcher);
      const version = await second.set("shared", 1);
      await live.waitForEvent(
        (event) => event.version === version,
        "the change on the second provider",
        context.eventTimeoutMs,
      );
      expect(closed.events).toEqual([]);
    });
  });
}
