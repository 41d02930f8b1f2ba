import { expect, it } from "vitest";
import type { WatchEvent } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import { recordEvents, waitFor } from "./support.js";
import { openWatching } from "./watch-support.js";

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * Registers the watch tests of the watcher and its filter: a filter's refusals counted, throwing
 * or rejecting watchers and filters counted in `info().failed` without stopping delivery, and an
 * async watcher called one event at a time.
 */
export function registerWatcherTests(context: ComplianceContext): void {
  it("a filter keeps the events it refuses from the watcher and counts them in info().filtered (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
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

  it("a throwing or rejecting watcher does not stop delivery; each failure is counted in info().failed (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
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
    const provider = await openWatching(context, test);
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
    const provider = await openWatching(context, test);
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
}
