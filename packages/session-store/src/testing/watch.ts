import { expectStateError, waitFor } from "@statebridge/state-provider/testing";
import { describe, expect, it } from "vitest";
import type { SessionStore, SessionStoreOptions, WatchEventBatch } from "../types.js";
import type { StoreSuiteContext } from "./context.js";
import { recordingListener, settle, summary } from "./support.js";

/** A store whose session "s" holds integers a, b and c at 0: revision 3. */
export async function watchedStore(
  context: StoreSuiteContext,
  options: SessionStoreOptions = {},
): Promise<SessionStore> {
  const store = await context.open(options);
  await store.initializeSession("s");
  await store.register("s", "a", "integer", 0);
  await store.register("s", "b", "integer", 0);
  await store.register("s", "c", "integer", 0);
  return store;
}

/** Watches: arguments, live delivery, and how watches end. */
export function describeWatch(context: StoreSuiteContext): void {
  const timeout = context.eventTimeoutMs;

  describe("watch: arguments", () => {
    it("every identifier must exist (not_found) and the list must not be empty (invalid_value)", async () => {
      const store = await watchedStore(context);
      await expectStateError(() => store.watch("s", ["a", "missing"], recordingListener()), "not_found");
      await expectStateError(() => store.watch("s", [], recordingListener()), "invalid_value");
      expect(store.stats().watchers).toBe(0);
    });

    it("fromRevision must be a non-negative integer", async () => {
      const store = await watchedStore(context);
      for (const fromRevision of [-1, 1.5, Number.NaN, "2" as unknown as number]) {
        await expectStateError(
          () => store.watch("s", ["a"], recordingListener(), { fromRevision }),
          "invalid_value",
          `fromRevision ${String(fromRevision)}`,
        );
      }
      expect(store.stats().watchers).toBe(0);
      const subscription = await store.watch("s", ["a"], recordingListener(), { fromRevision: 3 });
      expect(subscription.startRevision).toBe(3);
      expect(subscription.ids).toEqual([(await store.getVariable("s", "a")).id]);
      expect(store.stats().watchers).toBe(1);
    });

    it("maxWatchersPerSession refuses another watch with resource_exhausted", async () => {
      const store = await watchedStore(context, { maxWatchersPerSession: 2 });
      const first = await store.watch("s", ["a"], recordingListener());
      await store.watch("s", ["a"], recordingListener());
      await expectStateError(() => store.watch("s", ["a"], recordingListener()), "resource_exhausted");
      first.close();
      await store.watch("s", ["a"], recordingListener());
      expect(store.stats().watchers).toBe(2);
    });
  });

  describe("watch: live events", () => {
    it("each committed change to a watched variable arrives as one batch, named as the watcher named it", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      const idOfB = (await store.getVariable("s", "b")).id;
      const subscription = await store.watch("s", ["a", idOfB], listener);
      expect(subscription.startRevision).toBe(3);
      await store.set("s", "a", 1, { source: "python", metadata: { note: "n" } });
      await store.set("s", "c", 1);
      await store.set("s", "b", 2);
      await listener.waitForRevision(6, timeout);
      expect(summary(listener.batches)).toEqual(["4: value_change a=1", `6: value_change ${idOfB}=2`]);
      const event = listener.batches[0]?.events[0];
      expect(event).toMatchObject({
        type: "value_change",
        identifier: "a",
        name: "a",
        variableType: "integer",
        oldValue: 0,
        newValue: 1,
        version: 1,
        revision: 4,
        source: "python",
      });
      expect(event?.metadata.note).toBe("n");
      expect(listener.batches[0]?.bytes).toBeGreaterThan(0);
      await waitFor(() => subscription.currentRevision() === 6, "currentRevision() to reach 6", timeout);
    });

    it("an atomic batch arrives as the events of one revision, together", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      await store.watch("s", ["a", "b"], listener);
      const updates = new Map([
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ]);
      await store.updateMany("s", updates, { atomic: true });
      await listener.waitForRevision(4, timeout);
      await settle(store, "s", "a", listener, timeout);
      expect(summary(listener.batches)).toEqual([
        "4: value_change a=1, value_change b=2",
        "5: value_change a=0",
        "6: value_change a=1",
      ]);
    });

    it("the applied part of a non-atomic batch arrives together too", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      await store.watch("s", ["a", "b"], listener);
      const updates = new Map<string, unknown>([
        ["a", 1],
        ["b", "wrong"],
      ]);
      await expectStateError(() => store.updateMany("s", updates), "partial_failure");
      await listener.waitForRevision(4, timeout);
      expect(summary(listener.batches)).toEqual(["4: value_change a=1"]);
    });

    it("a deleted variable sends deleted once, then nothing more for it", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      await store.watch("s", ["a", "b"], listener);
      await store.delete("s", "a", { source: "python" });
      await store.register("s", "a", "integer", 9);
      await store.set("s", "a", 10);
      await store.set("s", "b", 1);
      await listener.waitForRevision(7, timeout);
      expect(summary(listener.batches)).toEqual(["4: deleted a=undefined", "7: value_change b=1"]);
      expect(listener.batches[0]?.events[0]).toMatchObject({ oldValue: 0, version: 0, source: "python" });
    });

    it("one change reaches 1,000 watchers of the same variable, each once", async () => {
      const store = await watchedStore(context);
      const counts = new Array<number>(1000).fill(0);
      await Promise.all(
        counts.map((_, index) =>
          store.watch("s", ["a"], {
            onEvents: (batch: WatchEventBatch) => {
              counts[index] = (counts[index] ?? 0) + batch.events.length;
            },
            onEnd: () => {},
          }),
        ),
      );
      expect(store.stats().watchers).toBe(1000);
      const sentinel = recordingListener();
      await store.watch("s", ["b"], sentinel);
      await store.set("s", "a", 1);
      await store.set("s", "b", 1);
      await sentinel.waitForRevision(5, timeout);
      await waitFor(() => counts.every((count) => count >= 1), "every watcher to have the change", timeout);
      await settle(store, "s", "b", sentinel, timeout);
      expect(counts.every((count) => count === 1)).toBe(true);
    });

    it("a throwing listener does not stop delivery to the others nor undo the change", async () => {
      const thrown: unknown[] = [];
      const store = await watchedStore(context, { onListenerError: (error) => thrown.push(error) });
      await store.watch("s", ["a"], {
        onEvents: () => {
          throw new Error("listener failure");
        },
        onEnd: () => {},
      });
      const healthy = recordingListener();
      await store.watch("s", ["a"], healthy);
      expect((await store.set("s", "a", 1)).version).toBe(1);
      expect((await store.set("s", "a", 2)).version).toBe(2);
      await healthy.waitForRevision(5, timeout);
      expect(summary(healthy.batches)).toEqual(["4: value_change a=1", "5: value_change a=2"]);
      await waitFor(() => thrown.length === 2, "both listener errors reported to onListenerError", timeout);
      expect((await store.getVariable("s", "a")).value).toBe(2);
    });

    it("changes made by a listener while a batch is delivered reach every watcher after that batch", async () => {
      const store = await watchedStore(context);
      const first = recordingListener();
      let reacted = false;
      await store.watch("s", ["a"], {
        onEvents: (batch) => {
          first.onEvents(batch);
          if (!reacted) {
            reacted = true;
            void store.set("s", "a", 100);
          }
        },
        onEnd: first.onEnd,
      });
      const second = recordingListener();
      await store.watch("s", ["a"], second);
      await store.set("s", "a", 1);
      await second.waitForRevision(5, timeout);
      await first.waitForRevision(5, timeout);
      expect(summary(second.batches)).toEqual(["4: value_change a=1", "5: value_change a=100"]);
      expect(summary(first.batches)).toEqual(["4: value_change a=1", "5: value_change a=100"]);
    });
  });

  describe("watch: ending and releasing", () => {
    it("deleting the session ends its watches with session_expired; closing the store ends the rest with closed", async () => {
      const store = await watchedStore(context);
      const deleted = recordingListener();
      await store.watch("s", ["a"], deleted);
      await store.initializeSession("t");
      await store.register("t", "x", "integer", 0);
      const closing = recordingListener();
      await store.watch("t", ["x"], closing);
      await store.deleteSession("s");
      const ended = await deleted.waitForEnd(timeout);
      expect(ended.code).toBe("session_expired");
      expect(ended.message).toContain('session "s"');
      expect(closing.ends).toEqual([]);
      await store.set("t", "x", 1);
      await closing.waitForRevision(2, timeout);
      expect(closing.ends).toEqual([]);
      await store.close();
      expect((await closing.waitForEnd(timeout)).code).toBe("closed");
      expect(deleted.ends).toHaveLength(1);
      expect(closing.ends).toHaveLength(1);
    });

    it("close() of a subscription is idempotent and stops delivery at once", async () => {
      const store = await watchedStore(context);
      const listener = recordingListener();
      const subscription = await store.watch("s", ["a"], listener);
      expect(store.stats().watchers).toBe(1);
      subscription.close();
      subscription.close();
      expect(store.stats().watchers).toBe(0);
      await store.set("s", "a", 1);
      const sentinel = recordingListener();
      await store.watch("s", ["a"], sentinel);
      await settle(store, "s", "a", sentinel, timeout);
      expect(listener.batches).toEqual([]);
      expect(listener.ends).toEqual([]);
    });

    it("a session deleted during a replay ends the watch with session_expired, and nothing follows", async () => {
      const store = await watchedStore(context);
      for (let value = 1; value <= 5; value++) await store.set("s", "a", value);
      const listener = recordingListener();
      let deleting: Promise<boolean> | undefined;
      await store.watch(
        "s",
        ["a"],
        {
          onEvents(batch) {
            listener.onEvents(batch);
            deleting ??= store.deleteSession("s");
          },
          onEnd: listener.onEnd,
        },
        { fromRevision: 3 },
      );
      const ended = await listener.waitForEnd(timeout);
      expect(ended.code).toBe("session_expired");
      expect(await deleting).toBe(true);
      const expected = [
        "4: value_change a=1",
        "5: value_change a=2",
        "6: value_change a=3",
        "7: value_change a=4",
        "8: value_change a=5",
      ];
      expect(summary(listener.batches)).toEqual(expected.slice(0, listener.batches.length));
      expect(listener.batches.length).toBeGreaterThanOrEqual(1);
      await waitFor(() => store.stats().watchers === 0, "the ended watch to be released", timeout);
      expect(listener.ends).toHaveLength(1);
    });

    it("a listener closing its own subscription gets nothing more, and the others still do", async () => {
      const store = await watchedStore(context);
      const closing = recordingListener();
      let closeOwn = () => {};
      const subscription = await store.watch("s", ["a"], {
        onEvents(batch) {
          closing.onEvents(batch);
          closeOwn();
        },
        onEnd: closing.onEnd,
      });
      closeOwn = () => subscription.close();
      const other = recordingListener();
      await store.watch("s", ["a"], other);
      await store.set("s", "a", 1);
      await store.set("s", "a", 2);
      await other.waitForRevision(5, timeout);
      await settle(store, "s", "a", other, timeout);
      expect(summary(closing.batches)).toEqual(["4: value_change a=1"]);
      expect(summary(other.batches).slice(0, 2)).toEqual(["4: value_change a=1", "5: value_change a=2"]);
      expect(store.stats().watchers).toBe(1);
    });

    it("1,000 open/close cycles leave no watcher behind", async () => {
      const store = await watchedStore(context);
      for (let index = 0; index < 1000; index++) {
        const subscription = await store.watch(
          "s",
          index % 2 === 0 ? ["a", "b"] : ["c"],
          recordingListener(),
          {
            includeInitial: index % 3 === 0,
          },
        );
        if (index % 50 === 0) await store.set("s", "a", index);
        subscription.close();
      }
      expect(store.stats().watchers).toBe(0);
      const listener = recordingListener();
      await store.watch("s", ["a"], listener);
      const { revision } = await store.set("s", "a", -1);
      await listener.waitForRevision(revision, timeout);
      expect(listener.batches).toHaveLength(1);
      expect(store.stats().watchers).toBe(1);
    });
  });
}
