import type { BridgedStateOptions, StreamWatchOptions } from "@statebridge/state-bridged";
import type {
  ExportDocument,
  RegisteredVariable,
  RegisterOptions,
  SetOptions,
  StateError,
  StateProvider,
  UpdateManyOptions,
  UpdateManyResult,
  Updates,
  Variable,
  VariableType,
  VariableValue,
  Watcher,
  WatchHandle,
  WatchInfo,
} from "@statebridge/state-provider";
import type { ProgramSpec } from "./program-spec.js";

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
