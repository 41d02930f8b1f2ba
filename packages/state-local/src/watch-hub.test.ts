import type { StateProvider, WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createLocalState } from "./local-state.js";

const opened: StateProvider[] = [];

function open(options?: Parameters<typeof createLocalState>[0]): StateProvider {
  const provider = createLocalState(options);
  opened.push(provider);
  return provider;
}

afterEach(async () => {
  for (const provider of opened.splice(0)) await provider.close();
});

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

function summary(event: WatchEvent): string {
  return `${event.type} ${event.identifier}=${String(event.newValue)} @${event.revision}`;
}

describe("watch dispatch", () => {
  it("never calls a watcher from inside the mutating call", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    let calls = 0;
    await provider.watch(["x"], () => {
      calls++;
    });
    const pending = provider.set("x", 1);
    expect(calls).toBe(0);
    await pending;
    await settle();
    expect(calls).toBe(1);
  });

  it("a watcher writing from its callback does not reorder what other watchers see", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    await provider.register("y", "integer", 0);
    const log: string[] = [];
    await provider.watch(["x"], async (event) => {
      log.push(`A ${summary(event)}`);
      if (event.newValue === 1) await provider.set("y", 10);
    });
    await provider.watch(["x", "y"], (event) => {
      log.push(`B ${summary(event)}`);
    });
    await provider.set("x", 1);
    await provider.set("x", 2);
    await settle();
    // A's write runs from its callback for x=1 (revision 3) and takes revision 4; B sees it
    // after x=1, never before, and the test's own second write comes last.
    expect(log.filter((line) => line.startsWith("B"))).toEqual([
      "B value_change x=1 @3",
      "B value_change y=10 @4",
      "B value_change x=2 @5",
    ]);
    expect(log.filter((line) => line.startsWith("A"))).toEqual([
      "A value_change x=1 @3",
      "A value_change x=2 @5",
    ]);
  });

  it("a synchronous writer in the callback: the global delivery follows revision order", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    await provider.register("y", "integer", 0);
    const log: string[] = [];
    await provider.watch(["x"], (event) => {
      log.push(`A ${summary(event)}`);
      if (event.newValue === 1) void provider.set("y", 10);
    });
    await provider.watch(["x", "y"], (event) => {
      log.push(`B ${summary(event)}`);
    });
    await provider.set("x", 1);
    await settle();
    expect(log).toEqual(["A value_change x=1 @3", "B value_change x=1 @3", "B value_change y=10 @4"]);
  });

  it("a watcher returning a promise pauses only its own queue", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    const gate = deferred();
    const slow: number[] = [];
    const fast: number[] = [];
    await provider.watch(["x"], async (event) => {
      slow.push(event.newValue as number);
      if (event.newValue === 1) await gate.promise;
    });
    await provider.watch(["x"], (event) => {
      fast.push(event.newValue as number);
    });
    for (const value of [1, 2, 3]) await provider.set("x", value);
    await settle();
    expect(fast).toEqual([1, 2, 3]);
    expect(slow).toEqual([1]);
    gate.resolve();
    await settle();
    expect(slow).toEqual([1, 2, 3]);
  });

  it("a batch's events share one revision and arrive together, also if the watcher pauses inside it", async () => {
    const provider = open();
    for (const name of ["a", "b", "c"]) await provider.register(name, "integer", 0);
    const gate = deferred();
    const seen: string[] = [];
    await provider.watch(["a", "b", "c"], async (event) => {
      seen.push(summary(event));
      if (event.identifier === "a" && event.newValue === 1) await gate.promise;
    });
    const batch = await provider.updateMany(
      new Map([
        ["a", 1],
        ["b", 1],
        ["c", 1],
      ]),
      { atomic: true },
    );
    await provider.set("a", 2);
    await settle();
    expect(seen).toEqual([`value_change a=1 @${batch.revision}`]);
    gate.resolve();
    await settle();
    expect(seen).toEqual([
      `value_change a=1 @${batch.revision}`,
      `value_change b=1 @${batch.revision}`,
      `value_change c=1 @${batch.revision}`,
      `value_change a=2 @${batch.revision + 1}`,
    ]);
  });

  it("counts a throwing watcher and a throwing filter as failed and keeps delivering", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    const seen: number[] = [];
    const handle = await provider.watch(
      ["x"],
      (event) => {
        seen.push(event.newValue as number);
        if (event.newValue === 2) throw new Error("watcher failed");
      },
      {
        filter: (event) => {
          if (event.newValue === 3) throw new Error("filter failed");
          return event.newValue !== 4;
        },
      },
    );
    for (const value of [1, 2, 3, 4, 5]) await provider.set("x", value);
    await settle();
    expect(seen).toEqual([1, 2, 5]);
    const info = handle.info();
    expect(info.received).toBe(5);
    expect(info.delivered).toBe(3);
    expect(info.failed).toBe(2);
    expect(info.filtered).toBe(1);
  });

  it("counts a rejecting watcher as failed and keeps delivering", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    const seen: number[] = [];
    const handle = await provider.watch(["x"], async (event) => {
      seen.push(event.newValue as number);
      throw new Error("rejected");
    });
    await provider.set("x", 1);
    await provider.set("x", 2);
    await settle();
    expect(seen).toEqual([1, 2]);
    expect(handle.info().failed).toBe(2);
  });

  it("close() from inside the callback stops delivery at once", async () => {
    const provider = open();
    for (const name of ["a", "b"]) await provider.register(name, "integer", 0);
    const seen: string[] = [];
    const handle = await provider.watch(["a", "b"], (event) => {
      seen.push(event.identifier);
      void handle.close();
    });
    await provider.updateMany(
      new Map([
        ["a", 1],
        ["b", 1],
      ]),
    );
    await settle();
    expect(seen).toEqual(["a"]);
    expect(await handle.done).toBeUndefined();
    expect(provider.listWatchers()).toEqual([]);
  });
});

describe("watch starting points", () => {
  it("includeInitial sends initial events at the current revision before any later change", async () => {
    const provider = open();
    await provider.register("x", "integer", 5);
    const current = (await provider.register("y", "string", "hi")).revision;
    const seen: string[] = [];
    await provider.watch(
      ["y", "x"],
      (event) => {
        seen.push(summary(event));
      },
      { includeInitial: true },
    );
    await provider.set("x", 6);
    await settle();
    expect(seen).toEqual([
      `initial y=hi @${current}`,
      `initial x=5 @${current}`,
      `value_change x=6 @${current + 1}`,
    ]);
  });

  it("fromRevision replays exactly the changes after it while the history reaches back", async () => {
    const provider = open({ historySize: 4 });
    await provider.register("x", "integer", 0); // revision 1
    await provider.register("y", "integer", 0); // revision 2
    for (let value = 1; value <= 5; value++) await provider.set("x", value); // revisions 3..7
    await provider.set("y", 1); // revision 8; history now holds 5..8, base 4
    const seen: string[] = [];
    await provider.watch(
      ["x"],
      (event) => {
        seen.push(summary(event));
      },
      { fromRevision: 4 },
    );
    await settle();
    expect(seen).toEqual(["value_change x=3 @5", "value_change x=4 @6", "value_change x=5 @7"]);
  });

  it("fromRevision older than the history gives resync events with current values", async () => {
    const provider = open({ historySize: 4 });
    await provider.register("x", "integer", 0);
    await provider.register("y", "integer", 0);
    for (let value = 1; value <= 5; value++) await provider.set("x", value);
    await provider.set("y", 1); // revision 8
    const seen: WatchEvent[] = [];
    await provider.watch(
      ["x", "y"],
      (event) => {
        seen.push(event);
      },
      { fromRevision: 3 },
    );
    await provider.set("x", 6);
    await settle();
    expect(seen.map(summary)).toEqual(["resync x=5 @8", "resync y=1 @8", "value_change x=6 @9"]);
    expect(seen[0]?.oldValue).toBeUndefined();
    expect(seen[0]?.version).toBe(5);
  });

  it("replays a deletion the watcher missed and names identifiers as the watcher did", async () => {
    const provider = open();
    const x = await provider.register("x", "integer", 0);
    await provider.register("y", "integer", 0); // revision 2
    await provider.set("x", 1); // revision 3
    await provider.set("x", 2); // revision 4
    const start = 3;
    const seen: string[] = [];
    await provider.watch(
      [x.id],
      (event) => {
        seen.push(
          `${event.type} ${event.identifier === x.id ? "id" : event.identifier} ${String(event.newValue)} v${event.version}`,
        );
      },
      { fromRevision: start },
    );
    await provider.delete("x");
    await settle();
    expect(seen).toEqual(["value_change id 2 v2", "deleted id undefined v2"]);
  });

  it("an import into an empty session starts the history there: older resumes resync", async () => {
    const source = open();
    await source.register("x", "integer", 0);
    for (let value = 1; value <= 4; value++) await source.set("x", value);
    const target = open();
    await target.import(await source.export());
    const replayed: string[] = [];
    await target.watch(
      ["x"],
      (event) => {
        replayed.push(summary(event));
      },
      { fromRevision: 5 },
    );
    const resynced: string[] = [];
    await target.watch(
      ["x"],
      (event) => {
        resynced.push(summary(event));
      },
      { fromRevision: 2 },
    );
    await settle();
    expect(replayed).toEqual([]);
    expect(resynced).toEqual(["resync x=4 @5"]);
  });
});

describe("watch handles", () => {
  it("refuses unknown identifiers, an empty list and a malformed fromRevision", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    await expect(provider.watch(["x", "nope"], () => {})).rejects.toMatchObject({ code: "not_found" });
    await expect(provider.watch([], () => {})).rejects.toMatchObject({ code: "invalid_value" });
    await expect(provider.watch(["x"], () => {}, { fromRevision: -1 })).rejects.toMatchObject({
      code: "invalid_value",
    });
    expect(provider.listWatchers()).toEqual([]);
  });

  it("info() reports identifiers as named, counters and the revision a resume would start from", async () => {
    let clock = 42;
    const provider = open({ now: () => clock });
    const x = await provider.register("x", "integer", 0);
    await provider.register("other", "integer", 0);
    clock = 50;
    const handle = await provider.watch(["x", x.id, "x"], () => {});
    expect(handle.info()).toMatchObject({
      watchId: handle.watchId,
      identifiers: ["x", x.id],
      received: 0,
      reconnects: 0,
      startedAt: 50,
      state: "active",
    });
    const pending = provider.set("x", 1);
    const changed = 3;
    // Not delivered yet: a resume would start from the revision the watch began at.
    expect(handle.info().revision).toBe(changed - 1);
    expect(handle.info().received).toBe(1);
    await pending;
    await settle();
    expect(handle.info().revision).toBe(changed);
    expect(handle.info().received).toBe(1);
    await provider.set("other", 1);
    expect(handle.info().revision).toBe(changed + 1);
    expect(provider.listWatchers().map((info) => info.watchId)).toEqual([handle.watchId]);
    await handle.close();
    expect(handle.info().state).toBe("closed");
    expect(provider.listWatchers()).toEqual([]);
  });

  it("aborting the signal closes the watch and resolves done", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    const controller = new AbortController();
    const seen: number[] = [];
    const handle = await provider.watch(
      ["x"],
      (event) => {
        seen.push(event.newValue as number);
      },
      { signal: controller.signal },
    );
    await provider.set("x", 1);
    await settle();
    controller.abort();
    expect(await handle.done).toBeUndefined();
    await provider.set("x", 2);
    await settle();
    expect(seen).toEqual([1]);
    expect(provider.listWatchers()).toEqual([]);
  });

  it("a watch started with an aborted signal is closed and delivers nothing", async () => {
    const provider = open();
    await provider.register("x", "integer", 0);
    const seen: unknown[] = [];
    const handle = await provider.watch(
      ["x"],
      (event) => {
        seen.push(event);
      },
      { signal: AbortSignal.abort(), includeInitial: true },
    );
    expect(handle.info().state).toBe("closed");
    await provider.set("x", 1);
    await settle();
    expect(seen).toEqual([]);
  });

  it("a deleted variable's watchers get a deleted event and nothing after it", async () => {
    const provider = open();
    await provider.register("x", "float", 1.5, { metadata: { unit: "s" } });
    const seen: WatchEvent[] = [];
    await provider.watch(["x"], (event) => {
      seen.push(event);
    });
    const document = await provider.export();
    await provider.delete("x");
    // The same id comes back through an import: the old watch stays silent for it.
    await provider.register("keep", "integer", 0);
    await provider.import(document);
    await provider.set("x", 2.5);
    await settle();
    expect(seen.map((event) => event.type)).toEqual(["deleted"]);
    expect(seen[0]).toMatchObject({ oldValue: 1.5, newValue: undefined, version: 0, name: "x" });
    expect(seen[0]?.metadata.unit).toBe("s");
  });
});
