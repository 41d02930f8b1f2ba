import {
  type BridgedStateOptions,
  createBridgedState,
  type StreamWatchOptions,
} from "@statebridge/state-bridged";
import { createLocalState } from "@statebridge/state-local";
import {
  backendSwitchChannel,
  createSessionId,
  type ExportDocument,
  isStateError,
  type RegisteredVariable,
  type RegisterOptions,
  type SetOptions,
  StateError,
  type StateProvider,
  type UpdateManyOptions,
  type UpdateManyResult,
  type Updates,
  type Variable,
  type VariableType,
  type VariableValue,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
} from "@statebridge/state-provider";
import { ContextWatch } from "./context-watch.js";
import { bridgeReason, type ProgramSpec } from "./program-spec.js";

/** Which backend a Context runs on. */
export type Backend = "local" | "bridged";

/** How to reach the bridge-server. */
export interface BridgeConnection {
  /** The server's address, such as `http://127.0.0.1:50051`. */
  readonly url: string;
  /** The bearer token, if the server wants one. */
  readonly token?: string;
  /** Further BridgedState options (deadline, retry, source…). */
  readonly options?: Omit<BridgedStateOptions, "url" | "sessionId" | "token">;
}

/** Options of {@link createContext}. */
export interface ContextOptions {
  /** The session id; generated if absent. The bridge session gets the same id. */
  readonly sessionId?: string;
  /** How to reach the bridge-server; without it the Context cannot switch. */
  readonly bridge?: BridgeConnection;
  /**
   * Pins the backend: `"bridged"` connects at once (and `createContext` fails if it can't);
   * `"local"` never switches (a program that needs the bridge is refused). Default: start local,
   * switch when needed.
   */
  readonly backend?: Backend;
  /** Makes the local backend; default `createLocalState`. */
  readonly createLocal?: (sessionId: string) => StateProvider | Promise<StateProvider>;
  /** Makes the bridged backend; default `createBridgedState`. */
  readonly createBridged?: (connection: BridgeConnection, sessionId: string) => Promise<StateProvider>;
}

/** Emitted after a switch to the bridge. */
export interface BackendSwitchEvent {
  readonly from: Backend;
  readonly to: Backend;
  /** Wall time the switch took, in milliseconds. */
  readonly durationMs: number;
  /** Variables moved. */
  readonly variables: number;
  /** Live watches moved. */
  readonly watchers: number;
  /** What asked for the switch. */
  readonly reason: string;
}

/** Emitted when a switch failed; the Context stays on its local backend. */
export interface BackendSwitchFailedEvent {
  /** The step that failed: `export`, `connect`, `import`, `watchers` or `release`. */
  readonly step: SwitchStep;
  readonly error: StateError;
  readonly durationMs: number;
  readonly reason: string;
}

/** The steps of a switch, in order. */
export type SwitchStep = "export" | "connect" | "import" | "watchers" | "release";

/** The events of a Context and their payloads. */
export interface ContextEvents {
  "backend-switch": BackendSwitchEvent;
  "backend-switch-failed": BackendSwitchFailedEvent;
}

/** What `registerProgram()` returns. */
export interface ProgramRegistration {
  readonly name: string;
  /** Why the program needs the bridge, or `undefined` if it runs in process. */
  readonly bridgeReason: string | undefined;
  /** The backend after registering it. */
  readonly backend: Backend;
}

/**
 * The high-level API: the variable operations of a StateProvider on whichever backend the
 * Context is on, and the switch from the local backend to the bridge.
 */
export interface Context {
  readonly sessionId: string;
  /** The backend operations run on now. */
  readonly backend: Backend;

  register(
    name: string,
    type: VariableType,
    initial: unknown,
    options?: RegisterOptions,
  ): Promise<RegisteredVariable>;
  get(identifier: string): Promise<VariableValue>;
  getVariable(identifier: string): Promise<Variable>;
  set(identifier: string, value: unknown, options?: SetOptions): Promise<number>;
  getMany(identifiers: Iterable<string>): Promise<Map<string, VariableValue>>;
  updateMany(updates: Updates, options?: UpdateManyOptions): Promise<UpdateManyResult>;
  list(pattern?: string): Promise<Variable[]>;
  delete(identifier: string): Promise<void>;
  export(): Promise<ExportDocument>;
  /**
   * Watches variables. The handle survives a switch: events keep coming from the new backend,
   * with no gap and no duplicate. `options.onStatus` is passed on to each backend's watch:
   * a bridged backend tells the connection state (see `WatchStatus`), LocalState nothing.
   */
  watch(identifiers: Iterable<string>, watcher: Watcher, options?: StreamWatchOptions): Promise<WatchHandle>;
  listWatchers(): WatchInfo[];

  /**
   * Registers a program. If it needs another process (see `bridgeReason` of the package), the
   * Context switches to the bridge first; if that fails, the program is not registered.
   * @throws `invalid_value` for a spec that is not an object, a duplicate program name, or a
   *   program that needs the bridge on a Context pinned to `local` or without `bridge` options;
   *   the switch's error if the switch fails.
   */
  registerProgram(spec: ProgramSpec): Promise<ProgramRegistration>;
  /** The programs registered, by name. */
  programs(): ReadonlyMap<string, ProgramSpec>;
  /**
   * Moves the Context onto the bridge: export → import (ids, versions, metadata kept) → move
   * every live watch → switch → release the local backend. Operations issued meanwhile wait
   * and then run in order on the new backend. A second call is a no-op.
   * @throws the failing step's error (the Context stays local, nothing is lost).
   */
  ensureBridged(reason?: string): Promise<void>;
  /** Subscribes to an event. @returns a function that unsubscribes. */
  on<K extends keyof ContextEvents>(event: K, listener: (payload: ContextEvents[K]) => void): () => void;
  /** Closes the backend and every watch. Idempotent; later calls fail with `closed`. */
  close(): Promise<void>;
}

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

  async function performSwitch(reason: string): Promise<void> {
    if (options.bridge === undefined) {
      throw new StateError(
        "invalid_value",
        `cannot switch to the bridge (${reason}): the context has no bridge options`,
      );
    }
    const started = performance.now();
    const local = provider;
    pending = [];
    let step: SwitchStep = "export";
    let bridged: StateProvider | undefined;
    let imported: ExportDocument | undefined;
    const moved = new Map<ContextWatch, WatchHandle | undefined>();
    let exportedVariables = 0;
    try {
      // Operations already issued on LocalState have run; let its watch dispatch settle so
      // every event up to the export's revision has reached the Context's watches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const document = await local.export();
      exportedVariables = document.variables.length;
      step = "connect";
      bridged = await createBridged(options.bridge, sessionId);
      step = "import";
      await importInto(bridged, document);
      imported = document;
      step = "watchers";
      for (const watch of watches) {
        moved.set(watch, await watch.openOn(bridged, document.revision));
      }
      step = "release";
      provider = bridged;
      backend = "bridged";
      for (const [watch, handle] of moved) watch.commitMove(handle);
      await local.close().catch(() => undefined);
      if (backendSwitchChannel.hasSubscribers) {
        backendSwitchChannel.publish({
          sessionId,
          from: "local",
          to: "bridged",
          variables: document.variables.length,
          watchers: moved.size,
          durationMs: performance.now() - started,
          outcome: "ok",
          errorCode: undefined,
          step: undefined,
          reason,
        });
      }
      emit("backend-switch", {
        from: "local",
        to: "bridged",
        durationMs: performance.now() - started,
        variables: document.variables.length,
        watchers: moved.size,
        reason,
      });
    } catch (cause) {
      for (const handle of moved.values()) await handle?.close().catch(() => undefined);
      if (bridged !== undefined && imported !== undefined) await removeImported(bridged, imported);
      await bridged?.close().catch(() => undefined);
      provider = local;
      backend = "local";
      const error = new StateError(
        isStateError(cause) ? cause.code : "unavailable",
        `switch to the bridge failed at ${step}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
          "the context stays local",
        { cause },
      );
      if (backendSwitchChannel.hasSubscribers) {
        backendSwitchChannel.publish({
          sessionId,
          from: "local",
          to: "bridged",
          variables: exportedVariables,
          watchers: moved.size,
          durationMs: performance.now() - started,
          outcome: "error",
          errorCode: error.code,
          step,
          reason,
        });
      }
      emit("backend-switch-failed", { step, error, durationMs: performance.now() - started, reason });
      await drainPending();
      throw error;
    }
    await drainPending();
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

/**
 * Imports a LocalState export into the bridge. One ImportSession call carries every variable.
 * If the bridge session already holds exactly these variables from an earlier attempt whose
 * answer was lost, they are taken as imported rather than refused as a conflict.
 */
async function importInto(bridged: StateProvider, document: ExportDocument): Promise<void> {
  try {
    await bridged.import(document);
  } catch (error) {
    if (!isStateError(error, "already_exists")) throw error;
    const existing = await bridged.export();
    if (!sameVariables(existing, document)) throw error;
  }
}

function sameVariables(left: ExportDocument, right: ExportDocument): boolean {
  if (left.variables.length !== right.variables.length) return false;
  const byId = new Map(right.variables.map((variable) => [variable.id, variable]));
  return left.variables.every((variable) => {
    const other = byId.get(variable.id);
    return other !== undefined && other.name === variable.name && other.version === variable.version;
  });
}

/** Best effort: takes back an import whose switch failed later, so a retry does not conflict. */
async function removeImported(bridged: StateProvider, document: ExportDocument): Promise<void> {
  await Promise.allSettled(document.variables.map((variable) => bridged.delete(variable.id)));
}
