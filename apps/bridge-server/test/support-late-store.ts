import { createSessionStore, type SessionStore, type SessionStoreOptions } from "@statebridge/session-store";

/** The store of {@link createLateStore} and the handles the test drives it with. */
export interface LateStore {
  /** What the server is given. */
  readonly store: SessionStore;
  /** The in-memory store underneath, for its stats and for closing it. */
  readonly inner: SessionStore;
  /** Resolves once a watch is pending in the store. */
  readonly watchEntered: Promise<void>;
  /** Lets pending (and later) watches resolve. */
  release(): void;
  /** Makes later watches wait again. */
  hold(): void;
  /** What `available()` says from now on (and the inner store is open). */
  setAvailable(value: boolean): void;
}

/**
 * The in-memory store, except that `watch()` resolves only once the test releases it (the
 * listener is registered, and receives changes, from the call on), as a remote backend's
 * answers come later than the call; and `available()` is what the test says.
 */
export function createLateStore(options: SessionStoreOptions = {}): LateStore {
  const inner = createSessionStore(options);
  let release: () => void = () => {};
  let released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered: () => void = () => {};
  const watchEntered = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let reachable = true;
  const store: SessionStore = {
    ...inner,
    available: () => reachable && inner.available(),
    async watch(...parameters) {
      const subscription = await inner.watch(...parameters);
      entered();
      await released;
      return subscription;
    },
  };
  return {
    store,
    inner,
    watchEntered,
    release: () => release(),
    hold() {
      released = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    setAvailable(value) {
      reachable = value;
    },
  };
}

/** Waits (up to 5 s) until `store` has no watcher left; the caller asserts the count. */
export async function untilNoWatchers(store: SessionStore): Promise<void> {
  for (let attempt = 0; attempt < 500 && store.stats().watchers > 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
