import {
  type Capabilities,
  describe,
  entriesOf,
  type RegisteredVariable,
  type StateError,
  StateError as StateErrorClass,
  type StateProvider,
  type VariableValue,
  type WatchEvent,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
  type WatchOptions,
} from "@statebridge/state-provider";
import type { SessionStore, WatchSubscription } from "../types.js";

interface LiveWatch {
  readonly handle: WatchHandle;
  end(error: StateError | undefined): void;
}

let watchCounter = 0;

/**
 * A StateProvider over one session of a SessionStore, in process: what the bridge-server does
 * over the network, minus the network, so that `describeStateProvider` can check a store's
 * semantics directly. Two providers on one store share the session (`distribution`);
 * `persistence` is the store's. Closing it releases its watches and leaves the session.
 */
export function createStoreProvider(
  store: SessionStore,
  sessionId: string,
  source = "typescript",
): StateProvider {
  const watches = new Set<LiveWatch>();
  const capabilities: Capabilities = Object.freeze({
    atomicUpdates: true,
    compareAndSet: true,
    watch: true,
    persistence: store.description.persistence,
    distribution: true,
    linearizableReads: true,
  });
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new StateErrorClass("closed", `the provider of session ${sessionId} is closed`);
  }

  function checkIterable(value: unknown, what: string): asserts value is Iterable<unknown> {
    if (
      value === null ||
      typeof value !== "object" ||
      typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function"
    ) {
      throw new StateErrorClass(
        "invalid_value",
        `${what} takes an iterable of identifiers, got ${describe(value)}`,
      );
    }
  }

  async function startWatch(
    identifiers: string[],
    watcher: Watcher,
    options: WatchOptions,
  ): Promise<WatchHandle> {
    const watchId = `watch_${++watchCounter}`;
    const startedAt = Date.now();
    const pending: WatchEvent[] = [];
    let draining = false;
    let state: WatchInfo["state"] = "active";
    let revision = 0;
    let received = 0;
    let filtered = 0;
    let failed = 0;
    let delivered = 0;
    let settle!: (value: StateError | undefined) => void;
    const done = new Promise<StateError | undefined>((resolve) => {
      settle = resolve;
    });
    let subscription: WatchSubscription | undefined;

    async function drain(): Promise<void> {
      if (draining) return;
      draining = true;
      while (pending.length > 0 && state === "active") {
        const event = pending.shift() as WatchEvent;
        if (options.filter !== undefined) {
          let keep: boolean;
          try {
            keep = options.filter(event);
          } catch {
            failed++;
            continue;
          }
          if (!keep) {
            filtered++;
            continue;
          }
        }
        delivered++;
        try {
          await watcher(event);
        } catch {
          failed++;
        }
      }
      draining = false;
    }

    const live: LiveWatch = {
      handle: {
        watchId,
        done,
        async close() {
          live.end(undefined);
        },
        info: () => ({
          watchId,
          identifiers,
          revision,
          received,
          filtered,
          failed,
          delivered,
          reconnects: 0,
          startedAt,
          state,
        }),
      },
      end(error) {
        if (state === "closed") return;
        state = "closed";
        pending.length = 0;
        subscription?.close();
        watches.delete(live);
        options.signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) options.onError?.(error);
        settle(error);
      },
    };
    const onAbort = () => live.end(undefined);

    // The listener may be called before the subscription arrives: events queue meanwhile.
    const opened = await store.watch(
      sessionId,
      identifiers,
      {
        onEvents(batch) {
          if (state !== "active") return;
          revision = batch.revision;
          received += batch.events.length;
          pending.push(...batch.events);
          void drain();
        },
        onEnd(error) {
          live.end(error);
        },
      },
      {
        ...(options.includeInitial === undefined ? {} : { includeInitial: options.includeInitial }),
        ...(options.fromRevision === undefined ? {} : { fromRevision: options.fromRevision }),
      },
    );
    subscription = opened;
    // Ended (by the store, or by the caller's signal) while the subscription was on its way.
    if ((state as WatchInfo["state"]) === "closed") {
      opened.close();
      return live.handle;
    }
    if (revision === 0) revision = opened.startRevision;
    watches.add(live);
    if (closed) live.end(undefined);
    if (options.signal?.aborted === true) live.end(undefined);
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    return live.handle;
  }

  return {
    sessionId,
    capabilities,
    requiresBridge: false,

    async register(name, type, initial, options = {}): Promise<RegisteredVariable> {
      ensureOpen();
      const { variable, revision } = await store.register(sessionId, name, type, initial, {
        ...options,
        source,
      });
      return {
        id: variable.id,
        name: variable.name,
        type: variable.type,
        version: variable.version,
        revision,
      };
    },
    async get(identifier): Promise<VariableValue> {
      ensureOpen();
      return (await store.getVariable(sessionId, identifier)).value;
    },
    async getVariable(identifier) {
      ensureOpen();
      return store.getVariable(sessionId, identifier);
    },
    async set(identifier, value, options = {}) {
      ensureOpen();
      return (await store.set(sessionId, identifier, value, { ...options, source })).version;
    },
    async getMany(identifiers) {
      ensureOpen();
      checkIterable(identifiers, "getMany");
      const values = new Map<string, VariableValue>();
      for (const [identifier, variable] of await store.getVariables(sessionId, identifiers)) {
        values.set(identifier, variable.value);
      }
      return values;
    },
    async updateMany(updates, options = {}) {
      ensureOpen();
      return store.updateMany(sessionId, entriesOf(updates) as Iterable<readonly [string, unknown]>, {
        ...options,
        source,
      });
    },
    async list(pattern) {
      ensureOpen();
      return store.list(sessionId, pattern);
    },
    async delete(identifier) {
      ensureOpen();
      await store.delete(sessionId, identifier, { source });
    },
    async export() {
      ensureOpen();
      return store.exportSession(sessionId);
    },
    async import(document) {
      ensureOpen();
      await store.importSession(sessionId, document);
    },
    async watch(identifiers, watcher, options = {}) {
      ensureOpen();
      checkIterable(identifiers, "watch");
      if (typeof watcher !== "function") {
        throw new StateErrorClass("invalid_value", `a watcher must be a function, got ${describe(watcher)}`);
      }
      if (options.filter !== undefined && typeof options.filter !== "function") {
        throw new StateErrorClass(
          "invalid_value",
          `filter must be a function, got ${describe(options.filter)}`,
        );
      }
      const named = [...new Set(identifiers as Iterable<string>)];
      return startWatch(named, watcher, options);
    },
    listWatchers() {
      return [...watches].map((watch) => watch.handle.info());
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const watch of [...watches]) watch.end(undefined);
    },
  };
}
