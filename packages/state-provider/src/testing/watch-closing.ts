import { expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import type { WatchHandle } from "../watch.js";
import type { ComplianceContext } from "./context.js";
import {
  type EventRecorder,
  expectWallClock,
  recordEvents,
  settlesWithin,
  summarize,
  waitFor,
} from "./support.js";
import { openWatching } from "./watch-support.js";

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

/**
 * Registers the watch tests of ending a watch: `close()`, many open/close cycles and an aborted
 * signal each release it, and nothing is delivered to it afterwards.
 */
export function registerWatchClosingTests(context: ComplianceContext): void {
  it("close() releases the watch: listWatchers() shrinks, done resolves, nothing more is delivered; close() is idempotent (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    await provider.register("b", "integer", 0);
    const before = Date.now();
    const recorders = [recordEvents(), recordEvents(), recordEvents()];
    const handles: WatchHandle[] = [];
    for (const recorder of recorders) handles.push(await provider.watch(["a", "b"], recorder.watcher));
    const [first, second, third] = handles as [WatchHandle, WatchHandle, WatchHandle];
    expect(new Set(handles.map((handle) => handle.watchId)).size).toBe(3);
    const listed = provider.listWatchers();
    expect(listed.map((info) => info.watchId).sort()).toEqual(handles.map((handle) => handle.watchId).sort());
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
    const provider = await openWatching(context, test);
    await provider.register("a", "integer", 0);
    for (let cycle = 0; cycle < 50; cycle++) {
      const handle = await provider.watch(["a"], () => {}, { includeInitial: cycle % 2 === 0 });
      await handle.close();
    }
    expect(provider.listWatchers()).toEqual([]);
  });

  it("aborting the signal closes the watch (capabilities.watch)", async (test) => {
    const provider = await openWatching(context, test);
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
}
