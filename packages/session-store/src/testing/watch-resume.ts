import { expectStateError } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore, WatchEventBatch } from "../types.js";
import type { StoreSuiteContext } from "./context.js";
import { type RecordingListener, recordingListener, summary } from "./support.js";
import { watchedStore } from "./watch.js";

/**
 * Checks that `batches` are one initial, replayed or resync batch (if `first` is given, of
 * that type) followed by a value change for every revision after it up to `last`, each once
 * and in order, each carrying the value `written` says that revision wrote.
 */
function expectContiguous(
  batches: readonly WatchEventBatch[],
  written: ReadonlyMap<number, number>,
  last: number,
  first?: string,
): void {
  const text = summary(batches).join(" | ");
  let from = 0;
  if (first !== undefined) {
    expect(batches[0]?.events[0]?.type, text).toBe(first);
    from = 1;
  }
  let revision = from === 1 ? (batches[0] as WatchEventBatch).revision : (batches[0]?.revision ?? 0) - 1;
  for (const batch of batches.slice(from)) {
    expect(batch.revision, `revision after ${revision}: ${text}`).toBe(revision + 1);
    revision = batch.revision;
    expect(
      batch.events.map((event) => [event.type, event.newValue]),
      text,
    ).toEqual([["value_change", written.get(revision)]]);
  }
  expect(revision, text).toBe(last);
}

/** Writes `count` values to "a" of session "s" at once, without awaiting between them. */
async function concurrentWrites(
  store: SessionStore,
  start: number,
  count: number,
): Promise<Map<number, number>> {
  const values = Array.from({ length: count }, (_, index) => start + index);
  const results = await Promise.all(values.map((value) => store.set("s", "a", value)));
  return new Map(results.map((result, index) => [result.revision, values[index] as number]));
}

/** Watches with initial values, resumes from a revision, resyncs, and bounded history. */
export function describeWatchResume(context: StoreSuiteContext): void {
  const timeout = context.eventTimeoutMs;

  describe("watch: initial values, resume, resync", () => {
    it("includeInitial delivers one batch of initial events at the start revision before any live event", async () => {
      const store = await watchedStore(context);
      await store.set("s", "a", 5);
      const listener = recordingListener();
      const subscription = await store.watch("s", ["a", "b"], listener, { includeInitial: true });
      expect(subscription.startRevision).toBe(4);
      await listener.waitForRevision(4, timeout);
      expect(summary(listener.batches)).toEqual(["4: initial a=5, initial b=0"]);
      expect(listener.batches[0]?.events[0]).toMatchObject({ oldValue: undefined, version: 1, revision: 4 });
      await store.set("s", "b", 1);
      await listener.waitForRevision(5, timeout);
      expect(summary(listener.batches)).toEqual(["4: initial a=5, initial b=0", "5: value_change b=1"]);
    });

    it("a listener called before watch() resolves loses and repeats nothing of the writes racing it", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      const watching = store.watch("s", ["a"], listener, { includeInitial: true });
      const written = await concurrentWrites(store, 1, 30);
      const subscription = await watching;
      await listener.waitForRevision(33, timeout);
      const initial = listener.batches[0] as WatchEventBatch;
      expect(initial.revision).toBe(subscription.startRevision);
      expect(initial.events.map((event) => event.newValue)).toEqual([written.get(initial.revision) ?? 0]);
      expectContiguous(listener.batches, written, 33, "initial");
    });

    it("a resume racing writes replays and then follows every revision once, in order", async () => {
      const store = await watchedStore(context);
      const before = await concurrentWrites(store, 1, 5); // revisions 4..8
      const listener = recordingListener();
      const watching = store.watch("s", ["a"], listener, { fromRevision: 3 });
      const during = await concurrentWrites(store, 100, 30); // revisions 9..38
      expect((await watching).startRevision).toBe(3);
      await listener.waitForRevision(38, timeout);
      expectContiguous(listener.batches, new Map([...before, ...during]), 38);
      expect(listener.batches[0]?.revision).toBe(4);
    });

    it("the snapshot is taken after the observer is registered: a write during the initial delivery is not lost", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      let wrote = false;
      await store.watch(
        "s",
        ["a"],
        {
          onEvents(batch) {
            listener.onEvents(batch);
            if (!wrote) {
              wrote = true;
              void store.set("s", "a", 7);
            }
          },
          onEnd: listener.onEnd,
        },
        { includeInitial: true },
      );
      await listener.waitForRevision(4, timeout);
      expect(summary(listener.batches)).toEqual(["3: initial a=0", "4: value_change a=7"]);
    });

    it("a watch opened by a listener during delivery gets each revision once", async () => {
      const store = await watchedStore(context);
      const late = recordingListener();
      let opened = false;
      await store.watch("s", ["a"], {
        onEvents: () => {
          if (!opened) {
            opened = true;
            void store.watch("s", ["a"], late, { includeInitial: true });
          }
        },
        onEnd: () => {},
      });
      await store.set("s", "a", 1);
      await store.set("s", "a", 2);
      await late.waitForRevision(5, timeout);
      const first = late.batches[0] as WatchEventBatch;
      expect(first.events.map((event) => event.type)).toEqual(["initial"]);
      // The snapshot is at revision 4 or, if read after the second write, at 5; never both.
      expect(summary(late.batches)).toEqual(
        first.revision === 4 ? ["4: initial a=1", "5: value_change a=2"] : ["5: initial a=2"],
      );
    });

    it("fromRevision replays every later change of the watched variables from history, one batch per revision", async () => {
      const store = await watchedStore(context);
      await store.set("s", "a", 1); // 4
      await store.set("s", "c", 1); // 5, not watched: skipped
      await store.updateMany(
        "s",
        new Map([
          ["a", 2],
          ["b", 2],
        ]),
        { atomic: true },
      ); // 6
      await store.register("s", "d", "integer", 0); // 7, no events
      await store.delete("s", "c"); // 8
      await store.set("s", "b", 3); // 9
      const listener = recordingListener();
      const subscription = await store.watch("s", ["a", "b"], listener, {
        fromRevision: 4,
        includeInitial: true,
      });
      expect(subscription.startRevision).toBe(4);
      await listener.waitForRevision(9, timeout);
      expect(summary(listener.batches)).toEqual([
        "6: value_change a=2, value_change b=2",
        "9: value_change b=3",
      ]);
      await store.set("s", "a", 3);
      await listener.waitForRevision(10, timeout);
      expect(summary(listener.batches).at(-1)).toBe("10: value_change a=3");
      expect(listener.batches).toHaveLength(3);
    });

    it("fromRevision equal to the current revision delivers nothing until the next change", async () => {
      const store = await watchedStore(context);
      await store.set("s", "a", 1);
      const listener = recordingListener();
      await store.watch("s", ["a"], listener, { fromRevision: 4 });
      await store.set("s", "a", 2);
      await listener.waitForRevision(5, timeout);
      expect(summary(listener.batches)).toEqual(["5: value_change a=2"]);
    });

    it("fromRevision older than the kept history (historySize) gets resync events with current values, never a gap", async () => {
      const store = await context.open({ historySize: 2 });
      await store.initializeSession("s");
      await store.register("s", "a", "integer", 0); // 1
      await store.register("s", "b", "integer", 0); // 2
      for (let value = 1; value <= 4; value++) await store.set("s", "a", value); // 3..6; history keeps 5, 6
      const resumed = recordingListener();
      await store.watch("s", ["a", "b"], resumed, { fromRevision: 4 });
      await resumed.waitForRevision(6, timeout);
      expect(summary(resumed.batches)).toEqual(["5: value_change a=3", "6: value_change a=4"]);
      const behind = recordingListener();
      const subscription = await store.watch("s", ["a", "b"], behind, { fromRevision: 3 });
      expect(subscription.startRevision).toBe(6);
      await behind.waitForRevision(6, timeout);
      expect(summary(behind.batches)).toEqual(["6: resync a=4, resync b=0"]);
      expect(behind.batches[0]?.events[0]).toMatchObject({ version: 4, revision: 6, oldValue: undefined });
      await store.set("s", "b", 1);
      await behind.waitForRevision(7, timeout);
      expect(summary(behind.batches).at(-1)).toBe("7: value_change b=1");
    });

    it("fromRevision beyond the current revision (a session the watcher no longer knows) resyncs", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      const subscription = await store.watch("s", ["a"], listener, { fromRevision: 50 });
      expect(subscription.startRevision).toBe(3);
      await listener.waitForRevision(3, timeout);
      expect(summary(listener.batches)).toEqual(["3: resync a=0"]);
      await store.set("s", "a", 1);
      await listener.waitForRevision(4, timeout);
      expect(summary(listener.batches)).toEqual(["3: resync a=0", "4: value_change a=1"]);
    });

    it("a resume naming a variable deleted after fromRevision replays its deletion, then watches the rest", async () => {
      const store = await watchedStore(context);
      const idOfA = (await store.getVariable("s", "a")).id;
      await store.set("s", "a", 1); // 4
      await store.delete("s", "a"); // 5
      await store.set("s", "b", 1); // 6
      const byName = recordingListener();
      await store.watch("s", ["a", "b"], byName, { fromRevision: 3 });
      await byName.waitForRevision(6, timeout);
      expect(summary(byName.batches)).toEqual([
        "4: value_change a=1",
        "5: deleted a=undefined",
        "6: value_change b=1",
      ]);
      const byId = recordingListener();
      await store.watch("s", [idOfA], byId, { fromRevision: 4 });
      await byId.waitForRevision(5, timeout);
      expect(summary(byId.batches)).toEqual([`5: deleted ${idOfA}=undefined`]);
      await store.set("s", "b", 2);
      await byName.waitForRevision(7, timeout);
      expect(summary(byName.batches).at(-1)).toBe("7: value_change b=2");
      expect(byName.batches).toHaveLength(4);
    });

    it("a resume naming a variable whose deletion it has already had watches the others", async () => {
      const store = await watchedStore(context);
      await store.delete("s", "a"); // 4
      await store.set("s", "b", 1); // 5
      const listener = recordingListener();
      await store.watch("s", ["a", "b"], listener, { fromRevision: 4 });
      await listener.waitForRevision(5, timeout);
      expect(summary(listener.batches)).toEqual(["5: value_change b=1"]);
    });

    it("a resume where no identifier exists or was deleted since is not_found; a new watch always is", async () => {
      const store = await watchedStore(context);
      await store.delete("s", "a"); // 4
      await expectStateError(
        () => store.watch("s", ["a"], recordingListener(), { fromRevision: 4 }),
        "not_found",
      );
      await expectStateError(
        () => store.watch("s", ["never"], recordingListener(), { fromRevision: 0 }),
        "not_found",
      );
      await expectStateError(() => store.watch("s", ["a", "b"], recordingListener()), "not_found");
      expect(store.stats().watchers).toBe(0);
    });

    it("with historySize 0, any resume below the current revision resyncs", async () => {
      const store = await context.open({ historySize: 0 });
      await store.initializeSession("s");
      await store.register("s", "a", "integer", 0);
      await store.set("s", "a", 1);
      const listener = recordingListener();
      await store.watch("s", ["a"], listener, { fromRevision: 1 });
      await listener.waitForRevision(2, timeout);
      expect(summary(listener.batches)).toEqual(["2: resync a=1"]);
    });
  });

  describe("watch: history bounded in bytes (historyBytes)", () => {
    const text = (length: number, fill: string) => fill.repeat(length);

    async function resumeFrom(
      store: SessionStore,
      fromRevision: number,
      last: number,
    ): Promise<RecordingListener> {
      const listener = recordingListener();
      await store.watch("s", ["text"], listener, { fromRevision });
      await listener.waitForRevision(last, timeout);
      return listener;
    }

    it("drops the oldest changes past historyBytes; a watcher resuming behind them resyncs, one within replays", async () => {
      // Each change holds two 3,000-byte values: at most three fit in 20,000 bytes.
      const store = await context.open({ historyBytes: 20_000 });
      await store.initializeSession("s");
      await store.register("s", "text", "string", text(3000, "0")); // 1
      for (let round = 1; round <= 6; round++) await store.set("s", "text", text(3000, String(round))); // 2..7
      const behind = await resumeFrom(store, 1, 7);
      expect(
        behind.batches.map((batch) => [batch.revision, batch.events.map((event) => event.type)]),
      ).toEqual([[7, ["resync"]]]);
      const within = await resumeFrom(store, 5, 7);
      expect(within.batches.map((batch) => batch.revision)).toEqual([6, 7]);
      expect(within.batches[1]?.events[0]?.newValue).toBe(text(3000, "6"));
    });

    it("a change larger than historyBytes by itself is not kept: resuming before it resyncs", async () => {
      const store = await context.open({ historyBytes: 1000 });
      await store.initializeSession("s");
      await store.register("s", "text", "string", ""); // 1
      await store.set("s", "text", "small"); // 2
      await store.set("s", "text", text(2000, "x")); // 3
      const watcher = await resumeFrom(store, 2, 3);
      expect(summary(watcher.batches)).toEqual([`3: resync text=${text(2000, "x")}`]);
      await store.set("s", "text", "after");
      await watcher.waitForRevision(4, timeout);
      expect(summary(watcher.batches).at(-1)).toBe("4: value_change text=after");
      expect(watcher.batches).toHaveLength(2);
    });
  });
}
