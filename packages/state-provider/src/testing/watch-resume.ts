import { expect, it } from "vitest";
import type { WatchEvent } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import { recordEvents, revisionOf, waitFor } from "./support.js";
import { changeOf, expectOrderedAndUnique, openWatching } from "./watch-support.js";

/**
 * Registers the watch tests of where a watch starts: `includeInitial` snapshots (also with writes
 * racing the call) and `fromRevision` resumes, replayed, from the current revision, or resynced
 * from before the kept history.
 */
export function registerWatchResumeTests(context: ComplianceContext): void {
  it("includeInitial sends the current values first, as initial events of the current revision (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    const a = await provider.register("a", "integer", 1);
    await provider.register("b", "string", "x");
    await provider.set("a", 2);
    const revision = await revisionOf(provider);
    const recorder = recordEvents();
    await provider.watch(["a", "b"], recorder.watcher, { includeInitial: true });
    await recorder.waitForCount(2, context.eventTimeoutMs);
    const byName = new Map(recorder.events.slice(0, 2).map((event) => [event.name, event]));
    const initialA = byName.get("a") as WatchEvent;
    const initialB = byName.get("b") as WatchEvent;
    for (const event of [initialA, initialB]) {
      expect(event.type).toBe("initial");
      expect(event.revision).toBe(revision);
      expect(event.oldValue).toBeUndefined();
    }
    expect(initialA.identifier).toBe("a");
    expect(initialA.id).toBe(a.id);
    expect(initialA.newValue).toBe(2);
    expect(initialA.version).toBe(1);
    expect(initialB.newValue).toBe("x");
    expect(initialB.version).toBe(0);
    await provider.set("b", "y");
    const change = await recorder.waitForEvent(
      (event) => event.type === "value_change",
      "the first change",
      context.eventTimeoutMs,
    );
    expect(change.revision).toBe(revision + 1);
    expect(recorder.events).toHaveLength(3);
  });

  it("includeInitial with writes racing the watch() call: the snapshot, then every later change, with no gap and no repeat (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    await provider.register("b", "integer", 0);
    const writes = 40;
    let written = 0;
    const writer = (async () => {
      for (let value = 1; value <= writes; value++) {
        await provider.set("a", value);
        await provider.set("b", value);
        written = value;
        // Yield to other tasks, so that writes go on while watch() is under way.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await waitFor(() => written >= 5, "the first writes", context.eventTimeoutMs);
    const recorder = recordEvents();
    await provider.watch(["a", "b"], recorder.watcher, { includeInitial: true });
    await writer;
    const last = await provider.set("a", writes + 1);
    await recorder.waitForEvent(
      (event) => event.name === "a" && event.version === last,
      "the last change of a",
      context.eventTimeoutMs,
    );

    const [first, second, ...changes] = recorder.events;
    expect([first?.type, second?.type]).toEqual(["initial", "initial"]);
    expect(first?.revision).toBe(second?.revision);
    const snapshotRevision = first?.revision as number;
    for (const initial of [first, second] as WatchEvent[]) {
      // Each set writes its version as the value, so a snapshot is consistent if they agree.
      expect(initial.newValue).toBe(initial.version);
    }
    for (const change of changes) {
      expect(change.type).toBe("value_change");
      expect(change.revision).toBeGreaterThan(snapshotRevision);
    }
    expectOrderedAndUnique(recorder.events);
    for (const [name, final] of [
      ["a", last],
      ["b", writes],
    ] as const) {
      const initial = [first, second].find((event) => event?.name === name) as WatchEvent;
      const versions = changes.filter((event) => event.name === name).map((event) => event.version);
      const expected = Array.from(
        { length: final - initial.version },
        (_, index) => initial.version + index + 1,
      );
      expect(versions, `versions of ${name} after the snapshot at version ${initial.version}`).toEqual(
        expected,
      );
    }
  });

  it("fromRevision replays exactly the changes after that revision, then goes on live (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    await provider.register("b", "integer", 0);
    await provider.register("unwatched", "integer", 0);
    const live = recordEvents();
    await provider.watch(["a", "b"], live.watcher);
    await provider.set("a", 1);
    await provider.updateMany(
      new Map([
        ["a", 2],
        ["b", 2],
      ]),
    );
    const from = await revisionOf(provider);
    await provider.set("b", 3);
    await provider.set("unwatched", 3);
    await provider.updateMany(
      new Map([
        ["a", 4],
        ["b", 4],
      ]),
    );
    await provider.set("a", 5);
    const missed = 4;
    const resumed = recordEvents();
    await provider.watch(["a", "b"], resumed.watcher, { fromRevision: from, includeInitial: true });
    const version = await provider.set("b", 6);
    await resumed.waitForEvent(
      (event) => event.name === "b" && event.version === version,
      "the live change after the replay",
      context.eventTimeoutMs,
    );
    await live.waitForEvent(
      (event) => event.name === "b" && event.version === version,
      "the live change",
      context.eventTimeoutMs,
    );
    const expected = live.events.filter((event) => event.revision > from).map(changeOf);
    expect(expected).toHaveLength(missed + 1);
    expect(resumed.events.map(changeOf)).toEqual(expected);
    expect(resumed.events.map((event) => event.newValue)).toEqual(
      live.events.filter((event) => event.revision > from).map((event) => event.newValue),
    );
  });

  it("fromRevision equal to the current revision delivers only later changes (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    await provider.set("a", 1);
    const recorder = recordEvents();
    await provider.watch(["a"], recorder.watcher, { fromRevision: await revisionOf(provider) });
    await provider.set("a", 2);
    await recorder.waitForCount(1, context.eventTimeoutMs);
    const version = await provider.set("a", 3);
    await recorder.waitForEvent(
      (event) => event.version === version,
      "the second change",
      context.eventTimeoutMs,
    );
    expect(recorder.events.map((event) => [event.type, event.newValue])).toEqual([
      ["value_change", 2],
      ["value_change", 3],
    ]);
  });

  it("fromRevision older than the kept history sends resync events with the current values, never a silent gap (capabilities.watch)", async (test) => {
    const origin = await openWatching(context, test);
    const a = await origin.register("a", "integer", 1);
    await origin.register("b", "string", "x");
    await origin.set("a", 2);
    const document = JSON.parse(JSON.stringify(await origin.export())) as Record<string, unknown>;
    document.revision = 1000;
    const provider = await openWatching(context, test);
    await provider.import(document);

    const resynced = recordEvents();
    await provider.watch(["a", "b"], resynced.watcher, { fromRevision: 10 });
    await resynced.waitForCount(2, context.eventTimeoutMs);
    const byName = new Map(resynced.events.map((event) => [event.name, event]));
    const resyncA = byName.get("a") as WatchEvent;
    expect(resynced.events.map((event) => event.type)).toEqual(["resync", "resync"]);
    expect(resyncA.identifier).toBe("a");
    expect(resyncA.id).toBe(a.id);
    expect(resyncA.newValue).toBe(2);
    expect(resyncA.version).toBe(1);
    expect(resyncA.oldValue).toBeUndefined();
    expect(byName.get("b")?.newValue).toBe("x");
    for (const event of resynced.events) expect(event.revision).toBeGreaterThanOrEqual(1000);

    // The base of the history itself is reachable: no resync, only what comes next.
    const current = recordEvents();
    await provider.watch(["a", "b"], current.watcher, { fromRevision: 1000 });
    await provider.set("a", 3);
    const change = await resynced.waitForEvent(
      (event) => event.type === "value_change",
      "the change after the resync",
      context.eventTimeoutMs,
    );
    expect(change.revision).toBe(1001);
    await current.waitForCount(1, context.eventTimeoutMs);
    expect(current.events.map((event) => [event.type, event.revision])).toEqual([["value_change", 1001]]);
    expect(resynced.events).toHaveLength(3);
  });
}
