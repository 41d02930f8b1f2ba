import { expect, it } from "vitest";
import type { WatchEvent } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import {
  type EventRecorder,
  expectSameValue,
  expectStateError,
  expectWallClock,
  recordEvents,
  revisionOf,
  waitFor,
} from "./support.js";
import { changeOf, expectOrderedAndUnique, openWatching } from "./watch-support.js";

/**
 * Registers the watch tests of what a watcher is given and in which order: revision and version
 * order, only the watched variables, every field of an event, batches as one revision, and the
 * same order on 200 watchers.
 */
export function registerWatchOrderingTests(context: ComplianceContext): void {
  it("events arrive in revision order, per variable in version order, each exactly once (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
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
    const provider = await openWatching(context, test);
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
    const provider = await openWatching(context, test);
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

  it("an atomic batch arrives as events of one revision, delivered together, while other writes run (capabilities.watch, capabilities.atomicUpdates)", async (test) => {
    const provider = await openWatching(context, test);
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
    const provider = await openWatching(context, test);
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

  it("200 watchers and 4 concurrent writers: every watcher sees every change once, in the same order (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
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
}
