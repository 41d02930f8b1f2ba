import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "../src/index.js";
import { createStoreProvider } from "../src/testing/index.js";

let store: SessionStore;
afterEach(() => store.close());

describe("createStoreProvider", () => {
  it("a watch whose subscription arrives after the provider closed is released at once", async () => {
    store = createSessionStore();
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const provider = createStoreProvider(store, "s");
    const pending = provider.watch(["x"], () => {});
    await provider.close();
    const handle = await pending;
    expect(handle.info().state).toBe("closed");
    expect(await handle.done).toBeUndefined();
    expect(store.stats().watchers).toBe(0);
    expect(provider.listWatchers()).toEqual([]);
  });

  it("a watch whose session ends before its subscription arrives ends with session_expired and holds nothing", async () => {
    store = createSessionStore();
    await store.initializeSession("s");
    await store.register("s", "x", "integer", 0);
    const provider = createStoreProvider(store, "s");
    const pending = provider.watch(["x"], () => {}, { includeInitial: true });
    const deleting = store.deleteSession("s");
    const handle = await pending;
    expect(await deleting).toBe(true);
    expect((await handle.done)?.code).toBe("session_expired");
    expect(store.stats().watchers).toBe(0);
    expect(provider.listWatchers()).toEqual([]);
  });

  it("takes persistence from the store's description, and shares sessions between providers (distribution)", async () => {
    store = createSessionStore();
    await store.initializeSession("s");
    expect(createStoreProvider(store, "s").capabilities).toMatchObject({
      persistence: false,
      distribution: true,
    });
    const persistent: SessionStore = Object.create(store, {
      description: { value: { kind: "test", persistence: true, distribution: true } },
    });
    expect(createStoreProvider(persistent, "s").capabilities).toMatchObject({
      persistence: true,
      distribution: true,
    });
  });
});
