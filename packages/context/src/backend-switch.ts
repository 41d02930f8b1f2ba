import {
  backendSwitchChannel,
  type ExportDocument,
  isStateError,
  StateError,
  type StateProvider,
  type WatchHandle,
} from "@statebridge/state-provider";
import type { Backend, BridgeConnection, ContextEvents, SwitchStep } from "./context-types.js";
import type { ContextWatch } from "./context-watch.js";

/** What a switch reads from its Context and what it changes on it. */
export interface SwitchHost {
  readonly sessionId: string;
  /** The Context's live watches: each is moved to the bridge with it. */
  readonly watches: Iterable<ContextWatch>;
  /** Makes the bridged backend. */
  readonly createBridged: (connection: BridgeConnection, sessionId: string) => Promise<StateProvider>;
  /** Puts the Context's operations on a backend. */
  use(provider: StateProvider, backend: Backend): void;
  /** Tells the Context's listeners. */
  emit<K extends keyof ContextEvents>(event: K, payload: ContextEvents[K]): void;
}

/**
 * Moves a Context from `local` onto the bridge: export → connect → import → move every live
 * watch → switch → release the local backend. A failure at any step takes back what the
 * earlier steps did (moved watches, imported variables, the bridged backend), leaves the
 * Context on `local` and throws a StateError naming the step. Either way the outcome is
 * published on `statebridge:backend-switch` and emitted to the Context's listeners.
 */
export async function switchToBridge(
  host: SwitchHost,
  local: StateProvider,
  connection: BridgeConnection,
  reason: string,
): Promise<void> {
  const { sessionId } = host;
  const started = performance.now();
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
    bridged = await host.createBridged(connection, sessionId);
    step = "import";
    await importInto(bridged, document);
    imported = document;
    step = "watchers";
    for (const watch of host.watches) {
      moved.set(watch, await watch.openOn(bridged, document.revision));
    }
    step = "release";
    host.use(bridged, "bridged");
    for (const [watch, handle] of moved) watch.commitMove(handle);
    await local.close().catch(() => undefined);
    publishSwitch(sessionId, reason, started, document.variables.length, moved.size, undefined);
    host.emit("backend-switch", {
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
    host.use(local, "local");
    const error = new StateError(
      isStateError(cause) ? cause.code : "unavailable",
      `switch to the bridge failed at ${step}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        "the context stays local",
      { cause },
    );
    publishSwitch(sessionId, reason, started, exportedVariables, moved.size, { error, step });
    host.emit("backend-switch-failed", { step, error, durationMs: performance.now() - started, reason });
    throw error;
  }
}

/** Publishes a switch's outcome on `statebridge:backend-switch`, when someone listens. */
function publishSwitch(
  sessionId: string,
  reason: string,
  started: number,
  variables: number,
  watchers: number,
  failure: { readonly error: StateError; readonly step: SwitchStep } | undefined,
): void {
  if (!backendSwitchChannel.hasSubscribers) return;
  backendSwitchChannel.publish({
    sessionId,
    from: "local",
    to: "bridged",
    variables,
    watchers,
    durationMs: performance.now() - started,
    outcome: failure === undefined ? "ok" : "error",
    errorCode: failure?.error.code,
    step: failure?.step,
    reason,
  });
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
