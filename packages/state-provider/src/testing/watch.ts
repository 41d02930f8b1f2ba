import { describe, expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import type { WatchEvent, WatchHandle } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import {
  type EventRecorder,
  expectSameValue,
  expectStateError,
  expectWallClock,
  recordEvents,
  revisionOf,
  settlesWithin,
  summarize,
  waitFor,
} from "./support.js";

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
function changeOf(event: WatchEvent): string {
  return `${event.type} ${event.id} v${event.version} r${event.revision}`;
}

/**
 * Proves that a watch gets nothing more: a change is made and awaited on another, live watch,
 * after which the closed watch's recorder must not have grown.
 */
async function expectNoFurtherDelivery(
  context: ComplianceContext,
  provider: StateProvider,
  closed: EventRecorder,
  identifier: string,
  value: unknown,
): Promise<void> {
  const countAtClose = closed.events.length;
  const barrier = recordEvents();
  const handle = await provider.watch([identifier], barrier.watcher);
  const version = await provider.set(identifier, value);
  await barrier.waitForEvent(
    (event) => event.version === version,
    "the change on a live watch",
    context.eventTimeoutMs,
  );
  await handle.close();
  expect(
    closed.events.length,
    `a closed watch received ${summarize(closed.events.slice(countAtClose))}`,
  ).toBe(countAtClose);
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * Registers the watch tests: every guarantee of the design's watching section that one backend
 * can show. Each test is skipped unless the backend declares `capabilities.watch`.
 */
export function describeWatch(context: ComplianceContext): void {
  const open = async (test: Parameters<ComplianceContext["open"]>[0]): Promise<StateProvider> => {
    const provider = await context.open(test);
    context.requires(test, provider, "watch");
    return provider;
  };

  describe("watch (capabilities.watch)", () => {
    it("events arrive in revision order, per variable in version order, each exactly once (capabilities.watch)", async (test) => {
      const provider = await open(test);
      for (const name of ["a", "b", "c"]) await provider.register(name, "integer", 0);
      const recorder = recordEvents();
      await provider.watch(["a", "b", "c"], recorder.watcher);
      const expected: string[] = [];
      const names = ["a", "b", "c"] as const;
      for (let step = 1; step <= 30; step++) {
        if (step % 5 === 0) {
          const result = await provider.updateMany(
            new Map([
              ["a", step],
              ["c", step],
            ]),
          );
          const members = [...result.versions.entries()].map(
            ([name, version]) => `${name} v${version} r${result.revision}`,
          );
          expected.push(...members.sort());
        } else {
          const name = names[step % 3] as string;
          const version = await provider.set(name, step);
          expected.push(`${name} v${version} r${await revisionOf(provider)}`);
        }
      }
      await recorder.waitForCount(expected.length, context.eventTimeoutMs);
      const delivered = recorder.events.map(
        (event) => `${event.identifier} v${event.version} r${event.revision}`,
      );
      // Members of one batch share a revision; their order among themselves is free.
      const normalized: string[] = [];
      for (let index = 0; index < delivered.length; ) {
        const revision = recorder.events[index]?.revision;
        let end = index;
        while (end < delivered.length && recorder.events[end]?.revision === revision) end++;
        normalized.push(...delivered.slice(index, end).sort());
        index = end;
      }
      expect(normalized).toEqual(expected);
      expectOrderedAndUnique(recorder.events);
      expect(recorder.events.every((event) => event.type === "value_change")).toBe(true);
      // Nothing arrives twice later either.
      const version = await provider.set("b", 99);
      await recorder.waitForEvent(
        (event) => event.name === "b" && event.version === version,
        "a last change",
        context.eventTimeoutMs,
      );
      expect(recorder.events).toHaveLength(expected.length + 1);
    });

    it("a watcher gets only the variables it watches (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("watched", "integer", 0);
      await provider.register("other", "integer", 0);
      const recorder = recordEvents();
      await provider.watch(["watched"], recorder.watcher);
      await provider.set("other", 1);
      await provider.updateMany(
        new Map([
          ["other", 2],
          ["watched", 1],
        ]),
      );
      await provider.set("other", 3);
      await provider.set("watched", 2);
      await recorder.waitForEvent(
        (event) => event.version === 2,
        "the second change of watched",
        context.eventTimeoutMs,
      );
      expect(recorder.events.map((event) => [event.name, event.newValue])).toEqual([
        ["watched", 1],
        ["watched", 2],
      ]);
    });

    it("every event carries the identifier as the watcher named it, id, name, variableType, oldValue, newValue, version, revision, source, metadata and timestamp (capabilities.watch)", async (test) => {
      const provider = await open(test);
      const a = await provider.register("a", "float", 0.25, {
        metadata: { owner: "tuner" },
        description: "alpha",
      });
      const b = await provider.register("b", "embedding", [1, 2]);
      const recorder = recordEvents();
      await provider.watch(["a", b.id], recorder.watcher);
      const before = Date.now();
      await provider.set("a", 0.5, { metadata: { step: 1 } });
      const setRevision = await revisionOf(provider);
      const batch = await provider.updateMany(new Map([["b", Float32Array.from([3, 4])]]));
      const after = Date.now();
      await recorder.waitForCount(2, context.eventTimeoutMs);
      const [first, second] = recorder.events as [WatchEvent, WatchEvent];
      const variableA = await provider.getVariable("a");
      expect(first.type).toBe("value_change");
      expect(first.identifier).toBe("a");
      expect(first.id).toBe(a.id);
      expect(first.name).toBe("a");
      expect(first.variableType).toBe("float");
      expect(first.oldValue).toBe(0.25);
      expect(first.newValue).toBe(0.5);
      expect(first.version).toBe(1);
      expect(first.revision).toBe(setRevision);
      expect(first.source).toBe(context.source);
      expect({ ...first.metadata }).toEqual({ owner: "tuner", description: "alpha", step: 1 });
      expectWallClock(first.timestamp, before, after, "timestamp");
      expect(first.timestamp).toBe(variableA.updatedAt);

      expect(second.identifier).toBe(b.id);
      expect(second.id).toBe(b.id);
      expect(second.name).toBe("b");
      expect(second.variableType).toBe("embedding");
      expectSameValue(second.oldValue, [1, 2], "oldValue");
      expectSameValue(second.newValue, [3, 4], "newValue");
      expect(second.version).toBe(1);
      expect(second.revision).toBe(batch.revision);
      expect(second.timestamp).toBe((await provider.getVariable("b")).updatedAt);
    });

    it("includeInitial sends the current values first, as initial events of the current revision (capabilities.watch)", async (test) => {
      const provider = await open(test);
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
      const provider = await open(test);
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

    it("an atomic batch arrives as events of one revision, delivered together, while other writes run (capabilities.watch, capabilities.atomicUpdates)", async (test) => {
      const provider = await open(test);
      context.requires(test, provider, "atomicUpdates");
      for (const name of ["a", "b", "c", "noise"]) await provider.register(name, "integer", 0);
      const recorder = recordEvents();
      await provider.watch(["a", "b", "c", "noise"], recorder.watcher);
      const noise = (async () => {
        for (let value = 1; value <= 50; value++) {
          await provider.set("noise", value);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const revisions: number[] = [];
      for (let value = 1; value <= 10; value++) {
        const result = await provider.updateMany(
          new Map([
            ["a", value],
            ["b", value],
            ["c", value],
          ]),
          { atomic: true },
        );
        revisions.push(result.revision);
      }
      await noise;
      await recorder.waitForCount(80, context.eventTimeoutMs);
      expectOrderedAndUnique(recorder.events);
      for (const revision of revisions) {
        const positions = recorder.events.flatMap((event, index) =>
          event.revision === revision ? [index] : [],
        );
        const members = positions.map((index) => recorder.events[index]?.name).sort();
        expect(members, `the events of revision ${revision}`).toEqual(["a", "b", "c"]);
        const firstPosition = positions[0] as number;
        expect(positions, `the events of revision ${revision} are delivered together`).toEqual([
          firstPosition,
          firstPosition + 1,
          firstPosition + 2,
        ]);
      }
    });

    it("the applied part of a non-atomic batch arrives as events of one revision (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      await provider.register("b", "integer", 0);
      await provider.register("limited", "integer", 0, { constraints: { max: 1 } });
      const recorder = recordEvents();
      await provider.watch(["a", "b", "limited"], recorder.watcher);
      await expectStateError(
        () =>
          provider.updateMany(
            new Map([
              ["a", 1],
              ["limited", 2],
              ["b", 1],
            ]),
          ),
        "partial_failure",
      );
      const revision = await revisionOf(provider);
      await recorder.waitForCount(2, context.eventTimeoutMs);
      expect(recorder.events.map((event) => event.name).sort()).toEqual(["a", "b"]);
      expect(recorder.events.map((event) => event.revision)).toEqual([revision, revision]);
      const version = await provider.set("limited", 1);
      await recorder.waitForEvent(
        (event) => event.name === "limited" && event.version === version,
        "a change of limited",
        context.eventTimeoutMs,
      );
      expect(recorder.events).toHaveLength(3);
    });

    it("a filter keeps the events it refuses from the watcher and counts them in info().filtered (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      const recorder = recordEvents();
      const seenByFilter: WatchEvent[] = [];
      const handle = await provider.watch(["a"], recorder.watcher, {
        filter: (event) => {
          seenByFilter.push(event);
          return (event.newValue as number) % 2 === 0;
        },
      });
      for (let value = 1; value <= 10; value++) await provider.set("a", value);
      await recorder.waitForEvent((event) => event.newValue === 10, "the value 10", context.eventTimeoutMs);
      expect(recorder.events.map((event) => event.newValue)).toEqual([2, 4, 6, 8, 10]);
      expect(seenByFilter.map((event) => event.newValue)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(seenByFilter[0]?.identifier).toBe("a");
      const info = handle.info();
      expect(info.filtered).toBe(5);
      expect(info.delivered).toBe(5);
      expect(info.received).toBe(10);
      expect(info.failed).toBe(0);
    });

    it("delete() sends a deleted event with the last value; nothing more comes for that variable (capabilities.watch)", async (test) => {
      const provider = await open(test);
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
      const provider = await open(test);
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
      const provider = await open(test);
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

    it("a throwing or rejecting watcher does not stop delivery; each failure is counted in info().failed (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      const values: unknown[] = [];
      const handle = await provider.watch(["a"], (event) => {
        values.push(event.newValue);
        const value = event.newValue as number;
        if (value % 3 === 1) throw new Error(`watcher failure on ${value}`);
        if (value % 3 === 2) return Promise.reject(new Error(`async watcher failure on ${value}`));
        return undefined;
      });
      for (let value = 1; value <= 9; value++) await provider.set("a", value);
      await waitFor(
        () => values.length >= 9,
        "9 calls of the watcher",
        context.eventTimeoutMs,
        () => String(values),
      );
      expect(values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      await waitFor(
        () => handle.info().failed >= 6,
        "6 counted failures",
        context.eventTimeoutMs,
        () => JSON.stringify(handle.info()),
      );
      expect(handle.info().failed).toBe(6);
      expect(handle.info().state).toBe("active");
    });

    it("a throwing filter does not stop delivery; the event is counted in info().failed (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      const recorder = recordEvents();
      const handle = await provider.watch(["a"], recorder.watcher, {
        filter: (event) => {
          if (event.newValue === 2) throw new Error("filter failure");
          return true;
        },
      });
      for (let value = 1; value <= 3; value++) await provider.set("a", value);
      await recorder.waitForEvent((event) => event.newValue === 3, "the value 3", context.eventTimeoutMs);
      expect(recorder.events.map((event) => event.newValue)).toEqual([1, 3]);
      expect(handle.info().failed).toBe(1);
      expect(handle.info().state).toBe("active");
    });

    it("an async watcher's calls run one at a time, in order (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      let active = 0;
      let mostActive = 0;
      let startedEarly = 0;
      const started: number[] = [];
      const finished: number[] = [];
      await provider.watch(["a"], async (event) => {
        active++;
        mostActive = Math.max(mostActive, active);
        if (finished.length !== started.length) startedEarly++;
        started.push(event.version);
        await delay(event.version % 3);
        finished.push(event.version);
        active--;
      });
      const writes = Array.from({ length: 20 }, (_, index) => index + 1);
      await Promise.all(writes.map((value) => provider.set("a", value)));
      await waitFor(
        () => finished.length >= 20,
        "20 finished calls",
        context.eventTimeoutMs,
        () => String(finished),
      );
      expect(mostActive).toBe(1);
      expect(startedEarly, "calls that started before the previous one finished").toBe(0);
      expect(finished).toEqual(writes);
      expect(started).toEqual(writes);
    });

    it("close() releases the watch: listWatchers() shrinks, done resolves, nothing more is delivered; close() is idempotent (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      await provider.register("b", "integer", 0);
      const before = Date.now();
      const recorders = [recordEvents(), recordEvents(), recordEvents()];
      const handles: WatchHandle[] = [];
      for (const recorder of recorders) handles.push(await provider.watch(["a", "b"], recorder.watcher));
      const [first, second, third] = handles as [WatchHandle, WatchHandle, WatchHandle];
      expect(new Set(handles.map((handle) => handle.watchId)).size).toBe(3);
      const listed = provider.listWatchers();
      expect(listed.map((info) => info.watchId).sort()).toEqual(
        handles.map((handle) => handle.watchId).sort(),
      );
      for (const info of listed) {
        expect(info.identifiers).toEqual(["a", "b"]);
        expect(info.state).toBe("active");
        expectWallClock(info.startedAt, before, Date.now(), "startedAt");
      }
      await second.close();
      expect(await settlesWithin(second.done, context.eventTimeoutMs, "done after close()")).toBeUndefined();
      expect(second.info().state).toBe("closed");
      expect(
        provider
          .listWatchers()
          .map((info) => info.watchId)
          .sort(),
      ).toEqual([first.watchId, third.watchId].sort());
      await second.close();
      await expectNoFurtherDelivery(context, provider, recorders[1] as EventRecorder, "a", 1);
      // The other watches go on.
      await (recorders[0] as EventRecorder).waitForEvent(
        (event) => event.newValue === 1,
        "the change on the first watch",
        context.eventTimeoutMs,
      );
      await first.close();
      await third.close();
      expect(provider.listWatchers()).toEqual([]);
    });

    it("after many open/close cycles no watch is left behind (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      for (let cycle = 0; cycle < 50; cycle++) {
        const handle = await provider.watch(["a"], () => {}, { includeInitial: cycle % 2 === 0 });
        await handle.close();
      }
      expect(provider.listWatchers()).toEqual([]);
    });

    it("aborting the signal closes the watch (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("a", "integer", 0);
      const controller = new AbortController();
      const recorder = recordEvents();
      const handle = await provider.watch(["a"], recorder.watcher, { signal: controller.signal });
      await provider.set("a", 1);
      await recorder.waitForCount(1, context.eventTimeoutMs);
      controller.abort();
      expect(await settlesWithin(handle.done, context.eventTimeoutMs, "done after abort")).toBeUndefined();
      await waitFor(
        () => !provider.listWatchers().some((info) => info.watchId === handle.watchId),
        "the aborted watch to leave listWatchers()",
        context.eventTimeoutMs,
      );
      expect(handle.info().state).toBe("closed");
      await expectNoFurtherDelivery(context, provider, recorder, "a", 2);
    });

    it("200 watchers and 4 concurrent writers: every watcher sees every change once, in the same order (capabilities.watch)", async (test) => {
      const provider = await open(test);
      await provider.register("x", "integer", 0);
      await provider.register("y", "integer", 0);
      const recorders = Array.from({ length: 200 }, () => recordEvents());
      for (const recorder of recorders) await provider.watch(["x", "y"], recorder.watcher);
      expect(provider.listWatchers()).toHaveLength(200);
      const perWriter = 25;
      await Promise.all(
        ["x", "x", "y", "y"].map(async (name, writer) => {
          for (let step = 0; step < perWriter; step++) await provider.set(name, writer * 1000 + step);
        }),
      );
      const total = 4 * perWriter;
      await waitFor(
        () => recorders.every((recorder) => recorder.events.length >= total),
        `${total} events on each of 200 watchers`,
        context.eventTimeoutMs,
        () => `fewest ${Math.min(...recorders.map((recorder) => recorder.events.length))}`,
      );
      const reference = (recorders[0] as EventRecorder).events.map(changeOf);
      expect(reference).toHaveLength(total);
      for (const recorder of recorders) {
        expectOrderedAndUnique(recorder.events);
        expect(recorder.events.map(changeOf)).toEqual(reference);
      }
      const first = (recorders[0] as EventRecorder).events;
      for (const name of ["x", "y"]) {
        const versions = first.filter((event) => event.name === name).map((event) => event.version);
        expect(versions).toEqual(Array.from({ length: 2 * perWriter }, (_, index) => index + 1));
      }
    });

    it("fromRevision replays exactly the changes after that revision, then goes on live (capabilities.watch)", async (test) => {
      const provider = await open(test);
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
      const provider = await open(test);
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
      const origin = await open(test);
      const a = await origin.register("a", "integer", 1);
      await origin.register("b", "string", "x");
      await origin.set("a", 2);
      const document = JSON.parse(JSON.stringify(await origin.export())) as Record<string, unknown>;
      document.revision = 1000;
      const provider = await open(test);
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

    it("watch() refuses missing identifiers with not_found and an empty list or a malformed fromRevision with invalid_value, leaving no watch behind (capabilities.watch)", async (test) => {
      const provider = await open(test);
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
      const provider = await open(test);
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
  });
}
