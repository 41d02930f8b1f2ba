import { describe, expect, it } from "vitest";
import { createDeliveryScheduler, type DeliveryQueue } from "./delivery-queue.js";

interface Event {
  readonly revision: number;
  readonly label: string;
}

function event(revision: number, label: string): Event {
  return { revision, label };
}

/** Lets every queued microtask and promise reaction run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe("createDeliveryScheduler", () => {
  it("by default never calls a watcher from inside push(), only from a later microtask", async () => {
    const seen: string[] = [];
    const queue = createDeliveryScheduler().createQueue<Event>({ watcher: (each) => seen.push(each.label) });
    queue.push(event(1, "a"));
    expect(seen).toEqual([]);
    expect(queue.idle).toBe(false);
    await settle();
    expect(seen).toEqual(["a"]);
    expect([queue.idle, queue.processedRevision]).toEqual([true, 1]);
  });

  it("deferred: false delivers inside push() when no delivery runs", () => {
    const seen: string[] = [];
    const queue = createDeliveryScheduler({ deferred: false }).createQueue<Event>({
      watcher: (each) => seen.push(each.label),
    });
    queue.push(event(1, "a"));
    expect(seen).toEqual(["a"]);
  });

  // Guards the turn bookkeeping: a revision whose events were all handed out gets a new turn
  // when another event of it arrives (a batch handed over one event at a time).
  it("deferred: false delivers every event of a revision pushed one at a time", () => {
    const seen: string[] = [];
    const queue = createDeliveryScheduler({ deferred: false }).createQueue<Event>({
      watcher: (each) => seen.push(each.label),
    });
    for (const label of ["a", "b", "c"]) queue.push(event(5, label));
    expect(seen).toEqual(["a", "b", "c"]);
    expect(queue.delivered).toBe(3);
  });

  it("a watcher pushing from its callback queues behind what is queued: no queue sees a reordering", async () => {
    const scheduler = createDeliveryScheduler();
    const log: string[] = [];
    let other: DeliveryQueue<Event> | undefined;
    const first = scheduler.createQueue<Event>({
      watcher: (each) => {
        log.push(`A ${each.label}`);
        if (each.label === "x1") {
          first.push(event(2, "y"));
          other?.push(event(2, "y"));
        }
      },
    });
    other = scheduler.createQueue<Event>({ watcher: (each) => log.push(`B ${each.label}`) });
    first.push(event(1, "x1"));
    other.push(event(1, "x1"));
    await settle();
    expect(log).toEqual(["A x1", "B x1", "A y", "B y"]);
  });

  it("a watcher returning a promise pauses only its own queue", async () => {
    const scheduler = createDeliveryScheduler();
    const gate = deferred();
    const slow: number[] = [];
    const fast: number[] = [];
    const slowQueue = scheduler.createQueue<Event>({
      watcher: async (each) => {
        slow.push(each.revision);
        if (each.revision === 1) await gate.promise;
      },
    });
    const fastQueue = scheduler.createQueue<Event>({ watcher: (each) => fast.push(each.revision) });
    for (const revision of [1, 2, 3]) {
      slowQueue.push(event(revision, "x"));
      fastQueue.push(event(revision, "x"));
    }
    await settle();
    expect([slow, fast]).toEqual([[1], [1, 2, 3]]);
    expect([slowQueue.idle, slowQueue.processedRevision]).toEqual([false, 1]);
    gate.resolve();
    await settle();
    expect(slow).toEqual([1, 2, 3]);
    expect(slowQueue.idle).toBe(true);
  });

  it("a revision's events arrive together, also if the watcher pauses inside it", async () => {
    const gate = deferred();
    const seen: string[] = [];
    const queue = createDeliveryScheduler().createQueue<Event>({
      watcher: async (each) => {
        seen.push(`${each.label}@${each.revision}`);
        if (each.label === "a1") await gate.promise;
      },
    });
    for (const label of ["a1", "b1", "c1"]) queue.push(event(1, label));
    queue.push(event(2, "a2"));
    await settle();
    expect(seen).toEqual(["a1@1"]);
    gate.resolve();
    await settle();
    expect(seen).toEqual(["a1@1", "b1@1", "c1@1", "a2@2"]);
  });

  it("counts a throwing watcher and a throwing filter as failed, the filtered out apart, and keeps delivering", async () => {
    const seen: number[] = [];
    const queue = createDeliveryScheduler().createQueue<Event>({
      watcher: (each) => {
        seen.push(each.revision);
        if (each.revision === 2) throw new Error("watcher failed");
      },
      filter: (each) => {
        if (each.revision === 3) throw new Error("filter failed");
        return each.revision !== 4;
      },
    });
    for (let revision = 1; revision <= 5; revision++) queue.push(event(revision, "x"));
    await settle();
    expect(seen).toEqual([1, 2, 5]);
    // delivered counts every event handed to the watcher, the one it threw on included.
    expect([queue.received, queue.delivered, queue.failed, queue.filtered]).toEqual([5, 3, 2, 1]);
    expect(queue.processedRevision).toBe(5);
  });

  it("counts a rejecting watcher as failed and keeps delivering", async () => {
    const seen: number[] = [];
    const queue = createDeliveryScheduler().createQueue<Event>({
      watcher: async (each) => {
        seen.push(each.revision);
        throw new Error("rejected");
      },
    });
    queue.push(event(1, "x"));
    queue.push(event(2, "x"));
    await settle();
    expect(seen).toEqual([1, 2]);
    expect([queue.delivered, queue.failed]).toEqual([2, 2]);
  });

  it("close() from inside the callback stops delivery at once and later pushes are ignored", async () => {
    const seen: string[] = [];
    const queue: DeliveryQueue<Event> = createDeliveryScheduler().createQueue<Event>({
      watcher: (each) => {
        seen.push(each.label);
        queue.close();
      },
    });
    queue.push(event(1, "a"));
    queue.push(event(1, "b"));
    await settle();
    queue.push(event(2, "c"));
    await settle();
    expect(seen).toEqual(["a"]);
    expect([queue.closed, queue.idle, queue.received]).toEqual([true, false, 2]);
  });

  it("a queue closed while its watcher's promise is pending delivers nothing more", async () => {
    const gate = deferred();
    const seen: number[] = [];
    const queue = createDeliveryScheduler().createQueue<Event>({
      watcher: async (each) => {
        seen.push(each.revision);
        await gate.promise;
      },
    });
    queue.push(event(1, "x"));
    queue.push(event(2, "x"));
    await settle();
    queue.close();
    gate.resolve();
    await settle();
    expect(seen).toEqual([1]);
  });

  it("startRevision is the processed revision until an event is", () => {
    const queue = createDeliveryScheduler().createQueue<Event>({ watcher: () => {}, startRevision: 7 });
    expect([queue.processedRevision, queue.idle]).toEqual([7, true]);
  });
});
