import { createLocalState } from "@statebridge/state-local";
import type { StateProvider, WatchEvent, WatchInfo } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { createContext } from "./context.js";

/** Lets every queued microtask and promise reaction run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Watches `x` through `provider` with a watcher that throws on 2 and rejects on 3 and a filter
 * that throws on 4 and drops 5, writes 1..6, and returns the watch's counters.
 */
async function countersAfterFailures(
  provider: Pick<StateProvider, "register" | "watch" | "set">,
): Promise<Omit<WatchInfo, "watchId" | "startedAt">> {
  await provider.register("x", "integer", 0);
  const seen: number[] = [];
  const handle = await provider.watch(
    ["x"],
    (event: WatchEvent) => {
      seen.push(event.newValue as number);
      if (event.newValue === 2) throw new Error("watcher failed");
      if (event.newValue === 3) return Promise.reject(new Error("watcher rejected"));
      return undefined;
    },
    {
      filter: (event) => {
        if (event.newValue === 4) throw new Error("filter failed");
        return event.newValue !== 5;
      },
    },
  );
  for (let value = 1; value <= 6; value++) await provider.set("x", value);
  await settle();
  expect(seen).toEqual([1, 2, 3, 6]);
  const { watchId: _watchId, startedAt: _startedAt, ...counters } = handle.info();
  await handle.close();
  return counters;
}

describe("a Context watch", () => {
  // Regression: the Context's own queue counted an event whose watcher threw or rejected as
  // failed but not as delivered, unlike LocalState, BridgedState and WatchInfo's contract.
  it("counts events as LocalState does: handed to a watcher that throws or rejects is delivered and failed", async () => {
    const context = await createContext();
    const local = createLocalState();
    try {
      const throughContext = await countersAfterFailures(context);
      const direct = await countersAfterFailures(local);
      expect(throughContext).toMatchObject({ received: 6, delivered: 4, failed: 3, filtered: 1 });
      expect(throughContext).toMatchObject({
        received: direct.received,
        delivered: direct.delivered,
        failed: direct.failed,
        filtered: direct.filtered,
      });
    } finally {
      await context.close();
      await local.close();
    }
  });

  it("hands events over one at a time, in order: a watcher's promise holds back the next event", async () => {
    const context = await createContext();
    try {
      await context.register("x", "integer", 0);
      const log: string[] = [];
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await context.watch(["x"], async (event) => {
        log.push(`start ${String(event.newValue)}`);
        if (event.newValue === 1) await gate;
        log.push(`end ${String(event.newValue)}`);
      });
      await context.set("x", 1);
      await context.set("x", 2);
      await settle();
      expect(log).toEqual(["start 1"]);
      release();
      await settle();
      expect(log).toEqual(["start 1", "end 1", "start 2", "end 2"]);
    } finally {
      await context.close();
    }
  });
});
