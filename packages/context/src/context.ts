import { createBridgedState } from "@statebridge/state-bridged";
import { createLocalState } from "@statebridge/state-local";
import { createSessionId, StateError, type StateProvider } from "@statebridge/state-provider";
import { type SwitchHost, switchToBridge } from "./backend-switch.js";
import type { Backend, BridgeConnection, Context, ContextEvents, ContextOptions } from "./context-types.js";
import { ContextWatch } from "./context-watch.js";
import { bridgeReason, type ProgramSpec } from "./program-spec.js";

/**
 * Creates a Context. It starts on LocalState unless `backend: "bridged"` is given.
 * @throws with `backend: "bridged"`, the error of connecting to the bridge.
 */
export async function createContext(options: ContextOptions = {}): Promise<Context> {
  const sessionId = options.sessionId ?? createSessionId();
  const createLocal = options.createLocal ?? ((id: string) => createLocalState({ sessionId: id }));
  const createBridged =
    options.createBridged ??
    ((connection: BridgeConnection, id: string) =>
      createBridgedState({
        ...connection.options,
        url: connection.url,
        sessionId: id,
        ...(connection.token === undefined ? {} : { token: connection.token }),
      }));

  let provider: StateProvider;
  let backend: Backend;
  if (options.backend === "bridged") {
    if (options.bridge === undefined) {
      throw new StateError("invalid_value", 'backend "bridged" needs bridge options (url)');
    }
    provider = await createBridged(options.bridge, sessionId);
    backend = "bridged";
  } else {
    provider = await createLocal(sessionId);
    backend = "local";
  }

  const watches = new Set<ContextWatch>();
  const programs = new Map<string, ProgramSpec>();
  const listeners = new Map<keyof ContextEvents, Set<(payload: never) => void>>();
  /** Operations issued while a switch runs; run in order once it ends. */
  let pending: (() => Promise<void>)[] | undefined;
  let switchInFlight: Promise<void> | undefined;
  let closed = false;

  function emit<K extends keyof ContextEvents>(event: K, payload: ContextEvents[K]): void {
    for (const listener of listeners.get(event) ?? []) {
      try {
        (listener as (value: ContextEvents[K]) => void)(payload);
      } catch {
        // A throwing listener must not break the switch it is told about.
      }
    }
  }

  /**
   * Runs an operation on the current backend, or, while a switch runs, queues it to run after
   * the switch in the order it was issued.
   */
  function run<T>(operation: (current: StateProvider) => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new StateError("closed", "the context is closed"));
    if (pending === undefined) return operation(provider);
    const queue = pending;
    return new Promise<T>((resolve, reject) => {
      queue.push(() => operation(provider).then(resolve, reject));
    });
  }

  async function drainPending(): Promise<void> {
    // New operations keep queuing behind these until the queue is empty, so order holds.
    while (pending !== undefined && pending.length > 0) {
      const job = pending.shift() as () => Promise<void>;
      await job();
    }
    pending = undefined;
  }

  const host: SwitchHost = {
    sessionId,
    watches,
    createBridged,
    use(next, nextBackend) {
      provider = next;
      backend = nextBackend;
    },
    emit,
  };

  async function performSwitch(reason: string): Promise<void> {
    if (options.bridge === undefined) {
      throw new StateError(
        "invalid_value",
        `cannot switch to the bridge (${reason}): the context has no bridge options`,
      );
    }
    pending = [];
    try {
      await switchToBridge(host, provider, options.bridge, reason);
    } finally {
      // Whether the switch is done or failed, what was issued meanwhile runs, in order.
      await drainPending();
    }
  }

  const context: Context = {
    sessionId,
    get backend() {
      return backend;
    },
    register: (name, type, initial, registerOptions) =>
      run((current) => current.register(name, type, initial, registerOptions)),
    get: (identifier) => run((current) => current.get(identifier)),
    getVariable: (identifier) => run((current) => current.getVariable(identifier)),
    set: (identifier, value, setOptions) => run((current) => current.set(identifier, value, setOptions)),
    getMany: (identifiers) => {
      const list = [...identifiers];
      return run((current) => current.getMany(list));
    },
    updateMany: (updates, updateOptions) => run((current) => current.updateMany(updates, updateOptions)),
    list: (pattern) => run((current) => current.list(pattern)),
    delete: (identifier) => run((current) => current.delete(identifier)),
    export: () => run((current) => current.export()),
    watch: (identifiers, watcher, watchOptions = {}) => {
      const list = [...identifiers];
      return run(async (current) => {
        const watch = new ContextWatch(list, watcher, watchOptions, (ended) => watches.delete(ended));
        watches.add(watch);
        try {
          await watch.start(current);
        } catch (error) {
          watches.delete(watch);
          throw error;
        }
        return watch;
      });
    },
    listWatchers: () => [...watches].filter((watch) => watch.active).map((watch) => watch.info()),

    async registerProgram(spec) {
      const reason = bridgeReason(spec);
      const name =
        typeof spec.name === "string" && spec.name !== "" ? spec.name : `program-${programs.size + 1}`;
      if (programs.has(name)) {
        throw new StateError(
          "already_exists",
          `a program named ${JSON.stringify(name)} is already registered`,
        );
      }
      if (reason !== undefined && backend === "local") {
        if (options.backend === "local") {
          throw new StateError(
            "invalid_value",
            `program ${JSON.stringify(name)} needs the bridge (${reason}) but the context is pinned to local`,
          );
        }
        await context.ensureBridged(`program ${JSON.stringify(name)}: ${reason}`);
      }
      programs.set(name, spec);
      return { name, bridgeReason: reason, backend };
    },
    programs: () => programs,

    async ensureBridged(reason = "ensureBridged()") {
      if (closed) throw new StateError("closed", "the context is closed");
      if (backend === "bridged") return;
      if (options.backend === "local") {
        throw new StateError("invalid_value", "the context is pinned to the local backend");
      }
      if (switchInFlight === undefined) {
        switchInFlight = performSwitch(reason).finally(() => {
          switchInFlight = undefined;
        });
      }
      return switchInFlight;
    },

    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },

    async close() {
      if (closed) return;
      await switchInFlight?.catch(() => undefined);
      closed = true;
      for (const watch of [...watches]) await watch.close();
      await provider.close();
    },
  };
  return context;
}
