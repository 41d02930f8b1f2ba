import { expect, it } from "vitest";
import type { WatchEvent } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, recordEvents, revisionOf } from "./support.js";
import { openWatching } from "./watch-support.js";

/**
 * Registers the watch tests of what a watch is bound to: deleted variables, a name registered
 * again, resumes by id, the identifiers `watch()` takes and the ones it refuses.
 */
export function registerWatchIdentityTests(context: ComplianceContext): void {
  it("delete() sends a deleted event with the last value; nothing more comes for that variable (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    const a = await provider.register("a", "string", "first");
    const b = await provider.register("b", "integer", 0);
    const recorder = recordEvents();
    const handle = await provider.watch(["a", b.id], recorder.watcher);
    await provider.set("a", "last");
    await provider.delete("a");
    const deleteRevision = await revisionOf(provider);
    const version = await provider.set(b.id, 1);
    await recorder.waitForEvent(
      (event) => event.id === b.id && event.version === version,
      "the change of b",
      context.eventTimeoutMs,
    );
    expect(recorder.events.map((event) => event.type)).toEqual(["value_change", "deleted", "value_change"]);
    const deleted = recorder.events[1] as WatchEvent;
    expect(deleted.identifier).toBe("a");
    expect(deleted.id).toBe(a.id);
    expect(deleted.name).toBe("a");
    expect(deleted.variableType).toBe("string");
    expect(deleted.oldValue).toBe("last");
    expect(deleted.newValue).toBeUndefined();
    expect(deleted.revision).toBe(deleteRevision);
    expect(recorder.events[2]?.identifier).toBe(b.id);
    // A variable registered again under the name is another variable: this watch does not see it.
    await provider.register("a", "string", "reborn");
    await provider.set("a", "changed");
    const next = await provider.set(b.id, 2);
    await recorder.waitForEvent(
      (event) => event.id === b.id && event.version === next,
      "the next change of b",
      context.eventTimeoutMs,
    );
    expect(recorder.events).toHaveLength(4);
    expect(handle.info().state).toBe("active");
  });

  // Regression (issue 10, item 1): a watch is bound to the variable ids its identifiers named
  // when it started, never to a name; a reconnecting client resumes by those ids.
  it("a watch by name follows the variable it started with: after a delete and a re-register under the name, the watcher has the deletion and nothing of the new variable (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    const old = await provider.register("x", "integer", 1);
    await provider.register("y", "integer", 0);
    const recorder = recordEvents();
    await provider.watch(["x", "y"], recorder.watcher);
    await provider.delete("x");
    const reborn = await provider.register("x", "integer", 100);
    await provider.set("x", 101);
    const version = await provider.set("y", 1);
    await recorder.waitForEvent(
      (event) => event.name === "y" && event.version === version,
      "the change of y",
      context.eventTimeoutMs,
    );
    expect(recorder.events.map((event) => [event.type, event.identifier, event.id])).toEqual([
      ["deleted", "x", old.id],
      ["value_change", "y", recorder.events[1]?.id],
    ]);
    expect(recorder.events.some((event) => event.id === reborn.id)).toBe(false);
  });

  it("a watch resumed by id from before the variable's deletion gets the deletion, and nothing of a variable registered later under its name (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    const old = await provider.register("x", "integer", 1);
    const y = await provider.register("y", "integer", 0);
    const resumeFrom = await revisionOf(provider);
    await provider.delete("x");
    const reborn = await provider.register("x", "integer", 100);
    await provider.set("x", 101);
    const recorder = recordEvents();
    await provider.watch([old.id, y.id], recorder.watcher, { fromRevision: resumeFrom });
    const version = await provider.set("y", 1);
    await recorder.waitForEvent(
      (event) => event.id === y.id && event.version === version,
      "the change of y",
      context.eventTimeoutMs,
    );
    expect(recorder.events.map((event) => [event.type, event.identifier, event.name])).toEqual([
      ["deleted", old.id, "x"],
      ["value_change", y.id, "y"],
    ]);
    expect(recorder.events.some((event) => event.id === reborn.id)).toBe(false);
  });

  it("watch() refuses missing identifiers with not_found and an empty list or a malformed fromRevision with invalid_value, leaving no watch behind (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    await expectStateError(() => provider.watch(["a", "missing"], () => {}), "not_found");
    await expectStateError(() => provider.watch(["var_0123456789abcdef01234567"], () => {}), "not_found");
    await expectStateError(() => provider.watch([], () => {}), "invalid_value");
    for (const fromRevision of [-1, 1.5, Number.NaN]) {
      await expectStateError(
        () => provider.watch(["a"], () => {}, { fromRevision }),
        "invalid_value",
        `fromRevision ${fromRevision}`,
      );
    }
    expect(provider.listWatchers()).toEqual([]);
  });

  it("watch() takes any iterable of identifiers and reaches a variable by id as by name (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    const a = await provider.register("a", "integer", 0);
    const recorder = recordEvents();
    const handle = await provider.watch(new Set([a.id]), recorder.watcher, { includeInitial: true });
    expect(handle.info().identifiers).toEqual([a.id]);
    await provider.set("a", 1);
    await recorder.waitForCount(2, context.eventTimeoutMs);
    expect(recorder.events.map((event) => [event.type, event.identifier, event.newValue])).toEqual([
      ["initial", a.id, 0],
      ["value_change", a.id, 1],
    ]);
  });
}
