import { describe, expect, it } from "vitest";
import type { ComplianceContext } from "./context.js";
import { expectStateError, recordEvents } from "./support.js";
import { expectOrderedAndUnique } from "./watch.js";

/**
 * Registers the tests of a session shared by several providers (`options.makeSecond`); each is
 * skipped unless the backend declares `capabilities.distribution`.
 */
export function describeDistribution(context: ComplianceContext): void {
  describe("distribution (capabilities.distribution)", () => {
    it("a second provider on the same session reads what the first wrote, and writes back (capabilities.distribution)", async (test) => {
      const first = await context.open(test);
      context.requires(test, first, "distribution");
      const second = await context.openSecond(test, first);
      expect(second.sessionId).toBe(first.sessionId);
      const { id } = await first.register("shared", "embedding", [1, 2, 3]);
      expect(await second.get("shared")).toEqual([1, 2, 3]);
      expect(await second.get(id)).toEqual([1, 2, 3]);
      expect(await second.set("shared", [4, 5])).toBe(1);
      expect(await first.get(id)).toEqual([4, 5]);
      await expectStateError(() => second.register("shared", "integer", 0), "already_exists");
      if (second.capabilities.compareAndSet) {
        await expectStateError(() => first.set("shared", [6], { expectedVersion: 0 }), "version_conflict");
      }
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
