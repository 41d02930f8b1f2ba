import { StateError, type Variable, type WatchEvent, type Watcher } from "@statebridge/state-provider";
import type { StreamWatchOptions } from "@statebridge/stream-consumer";
import { describe, expect, it } from "vitest";
import { createNearCache, type NearCache } from "../src/near-cache.js";
import type { BridgedWatches } from "../src/watch.js";

// The near cache's rules, each driven event by event through a scripted watch side, so that
// every interleaving (a server read racing a watch event, a status between two reads) is the
// one the test names. The cache against a real server is test/near-cache.test.ts.

interface ScriptedWatch {
  readonly identifiers: readonly string[];
  readonly watcher: Watcher;
  readonly options: StreamWatchOptions;
  closed: boolean;
  end(error: StateError | undefined): void;
}

function scriptedWatches(): BridgedWatches & { readonly opened: ScriptedWatch[] } {
  const opened: ScriptedWatch[] = [];
  return {
    opened,
    supported: true,
    async watch(identifiers, watcher, options) {
      let settle!: (error: StateError | undefined) => void;
      const done = new Promise<StateError | undefined>((resolve) => {
        settle = resolve;
      });
      const watch: ScriptedWatch = {
        identifiers,
        watcher,
        options,
        closed: false,
        end(error) {
          watch.closed = true;
          settle(error);
        },
      };
      opened.push(watch);
      return {
        watchId: `watch_${opened.length}`,
        done,
        close: async () => watch.end(undefined),
        info: () => {
          throw new Error("not used");
        },
      };
    },
    list: () => [],
    close: async () => {},
  };
}

function variable(version: number, value: number, id = "var_1", name = "x"): Variable {
  return {
    id,
    name,
    type: "integer",
    value,
    constraints: {},
    metadata: {},
    version,
    createdAt: 1,
    updatedAt: 1,
    source: "test",
  };
}

function event(
  type: WatchEvent["type"],
  version: number,
  value: number | undefined,
  id = "var_1",
): WatchEvent {
  return {
    type,
    identifier: id,
    id,
    name: "x",
    variableType: "integer",
    oldValue: undefined,
    newValue: value,
    version,
    revision: version,
    source: "other",
    metadata: {},
    timestamp: 2,
  };
}

async function setUp(): Promise<{
  cache: NearCache;
  watches: ReturnType<typeof scriptedWatches>;
  errors: StateError[];
  watch: () => ScriptedWatch;
}> {
  const watches = scriptedWatches();
  const errors: StateError[] = [];
  const cache = createNearCache({ watches, onWatchError: (error) => void errors.push(error) });
  const watch = () => {
    const last = watches.opened.at(-1);
    if (last === undefined) throw new Error("no watch opened");
    return last;
  };
  return { cache, watches, errors, watch };
}

/** Lets the cache take the handle of the watch it opened. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("near cache rules", () => {
  it("an entry is served only once its watch delivered the initial value, under its name and its id", async () => {
    const { cache, watch } = await setUp();
    cache.observe(variable(3, 30));
    expect(watch().identifiers).toEqual(["var_1"]);
    expect(watch().options.includeInitial).toBe(true);
    expect(cache.lookup("x")).toBeUndefined();
    await watch().watcher(event("initial", 3, 30));
    expect(cache.lookup("x")?.value).toBe(30);
    expect(cache.lookup("var_1")?.value).toBe(30);
  });

  it("a server read older than what the watch delivered never overwrites it, and an older initial never overwrites a newer read", async () => {
    const { cache, watch } = await setUp();
    cache.observe(variable(5, 50));
    await watch().watcher(event("initial", 4, 40));
    expect(cache.lookup("x")?.version).toBe(5);
    await watch().watcher(event("value_change", 6, 60));
    cache.observe(variable(5, 50));
    expect(cache.lookup("x")).toMatchObject({ value: 60, version: 6 });
  });

  it("an event or a read of another variable id under the same name does not change the entry", async () => {
    const { cache, watch } = await setUp();
    cache.observe(variable(1, 10));
    await watch().watcher(event("initial", 1, 10));
    await watch().watcher(event("value_change", 9, 90, "var_2"));
    expect(cache.lookup("x")?.value).toBe(10);
    // A read that finds the name on another id: the variable was deleted and registered again.
    cache.observe(variable(0, 7, "var_2"));
    expect(cache.lookup("var_1")).toBeUndefined();
    expect(cache.lookup("x")).toBeUndefined();
  });

  it("after the provider's own write, nothing older than the write's version is served (read-your-writes)", async () => {
    const { cache, watch } = await setUp();
    cache.observe(variable(1, 10));
    await watch().watcher(event("initial", 1, 10));
    cache.wrote("x", 2);
    expect(cache.lookup("x")).toBeUndefined();
    expect(cache.lookup("var_1")).toBeUndefined();
    await watch().watcher(event("value_change", 2, 20));
    expect(cache.lookup("var_1")?.value).toBe(20);
  });

  for (const status of [
    { kind: "reconnecting", attempt: 1, delayMs: 10, error: new StateError("unavailable", "cut") },
    {
      kind: "reconnecting",
      attempt: 1,
      delayMs: 10,
      error: new StateError("resource_exhausted", "the watcher is too slow"),
    },
    { kind: "gave_up", error: new StateError("unavailable", "gone") },
  ] as const) {
    it(`a ${status.kind} watch (${status.error.code}) drops the entry before the next read, and closes its watch`, async () => {
      const { cache, watch } = await setUp();
      cache.observe(variable(1, 10));
      await watch().watcher(event("initial", 1, 10));
      await settled();
      watch().options.onStatus?.(status);
      expect(cache.lookup("x")).toBeUndefined();
      expect(cache.size).toBe(0);
      expect(watch().closed).toBe(true);
    });
  }

  for (const type of ["resync", "deleted"] as const) {
    it(`a ${type} event drops the entry`, async () => {
      const { cache, watch } = await setUp();
      cache.observe(variable(1, 10));
      await watch().watcher(event("initial", 1, 10));
      await watch().watcher(event(type, 2, type === "resync" ? 20 : undefined));
      expect(cache.lookup("x")).toBeUndefined();
      expect(cache.size).toBe(0);
    });
  }

  it("a watch that ends with session_expired drops every entry and tells the provider", async () => {
    const { cache, watches, errors } = await setUp();
    cache.observe(variable(1, 10));
    cache.observe(variable(1, 11, "var_2", "y"));
    for (const opened of watches.opened) await opened.watcher(event("initial", 1, 10, opened.identifiers[0]));
    await settled();
    expect(cache.size).toBe(2);
    (watches.opened[0] as ScriptedWatch).end(new StateError("session_expired", "recreated"));
    await settled();
    expect(cache.size).toBe(0);
    expect(cache.lookup("y")).toBeUndefined();
    expect(errors.map((error) => error.code)).toEqual(["session_expired"]);
  });

  it("holds at most maxEntries, dropping the least recently read", async () => {
    const watches = scriptedWatches();
    const cache = createNearCache({ watches, onWatchError: () => {}, options: { maxEntries: 2 } });
    for (const [index, name] of ["a", "b"].entries()) {
      cache.observe(variable(1, index, `var_${name}`, name));
      await watches.opened.at(-1)?.watcher(event("initial", 1, index, `var_${name}`));
    }
    expect(cache.lookup("a")?.value).toBe(0);
    cache.observe(variable(1, 2, "var_c", "c"));
    expect(cache.size).toBe(2);
    expect(cache.lookup("b")).toBeUndefined();
    expect(cache.lookup("a")?.value).toBe(0);
    await settled();
    expect(watches.opened[1]?.closed).toBe(true);
  });
});
