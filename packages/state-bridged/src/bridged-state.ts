import { createClient, type Transport } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import {
  type Capabilities,
  type ExportDocument,
  type GetOptions,
  type RegisteredVariable,
  type RegisterOptions,
  type SetOptions,
  type StateProvider,
  traceOperations,
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
import type { GrpcConnection, StreamWatchOptions } from "@statebridge/stream-consumer";
import { assertOpen, type BridgedCore } from "./bridged-core.js";
import { type BridgedSettings, type BridgedStateOptions, resolveOptions } from "./bridged-state-options.js";
import { createCallPolicy } from "./call-policy.js";
import { stateErrorOf } from "./error-translation.js";
import { createNearCache } from "./near-cache.js";
import { createSessionGuard } from "./session-guard.js";
import { exportSession, importSession } from "./session-transfer.js";
import { createBridgeTransport } from "./transport.js";
import { createTypeCache } from "./type-cache.js";
import { createConnectUnaryCaller, type UnaryCaller } from "./unary-caller.js";
import { listVariables, readMany, readValue, readVariable } from "./variable-reads.js";
import { deleteVariable, registerVariable, setVariable, updateVariables } from "./variable-writes.js";
import { type BridgedWatches, createBridgedWatches } from "./watch.js";

/**
 * A BridgedState: a {@link StateProvider} that also tells which session it got. The factory
 * gets or creates its session; `created` says which, and `incarnation` tells this life of the
 * session from a later one created under the same id (after a restart, say). Once a call or a
 * watch learns that its session ended, every later call fails with `session_expired`: the
 * provider never goes on with a session created again as if it were its own.
 */
export interface BridgedStateProvider extends StateProvider {
  /** True if the factory created the session, false if it already existed. */
  readonly created: boolean;
  /** The session's incarnation, as the factory found it (16 hex digits; "" from an older server). */
  readonly incarnation: string;
  /**
   * What backs the server's sessions, as its `Ping` said when the factory connected: `kind`
   * `memory` or `redis` ("" from an older server). `capabilities.persistence` follows it.
   */
  readonly store: BridgedStoreInfo;
  /**
   * {@link StateProvider.watch}, whose options also take `onStatus`: told the watch's
   * connection state (`connected`, `reconnecting`, `resumed`, `gave_up`; see `WatchStatus`).
   */
  watch(identifiers: Iterable<string>, watcher: Watcher, options?: StreamWatchOptions): Promise<WatchHandle>;
}

/** The session store behind a bridge-server, as the server describes it. */
export interface BridgedStoreInfo {
  /** `memory`, `redis`, or "" when the server does not say. */
  readonly kind: string;
  /** Sessions survive a restart of the server serving them. */
  readonly persistence: boolean;
  /** Several bridge-servers serve the same sessions (behind a balancer, say). */
  readonly distribution: boolean;
}

/**
 * Creates a BridgedState: a {@link StateProvider} whose session lives in a bridge-server, so
 * that every process that knows the session id (TypeScript or Python) shares its variables.
 *
 * The factory is async because it makes sure the session exists (`InitializeSession`:
 * get-or-create) before returning. Every call has a deadline; reads, and that first call,
 * are retried with backoff while the server is unavailable; writes are not, because a write
 * that timed out may have been applied.
 *
 * @throws `unavailable` if the server cannot be reached within the deadline;
 *   `unauthenticated` for a missing or wrong token; `resource_exhausted` if the server holds
 *   as many sessions as it may; `invalid_value` for malformed options.
 */
export async function createBridgedState(options: BridgedStateOptions): Promise<BridgedStateProvider> {
  const settings = resolveOptions(options);
  const owned = options.transport === undefined ? createBridgeTransport(settings) : undefined;
  const transport = options.transport ?? (owned as NonNullable<typeof owned>).transport;
  // A transport given by the user may speak any protocol: its calls go through connect.
  const unary = owned?.unary ?? createConnectUnaryCaller(transport);
  try {
    const provider = new BridgedState(
      settings,
      transport,
      unary,
      () => owned?.close(),
      owned !== undefined,
      owned?.connection,
    );
    await provider.initialize();
    return traceOperations(provider, "bridged");
  } catch (error) {
    owned?.close();
    throw error;
  }
}

class BridgedState implements BridgedStateProvider {
  readonly sessionId: string;
  created = false;
  incarnation = "";
  store: BridgedStoreInfo = Object.freeze({ kind: "", persistence: false, distribution: false });
  capabilities: Capabilities;
  readonly requiresBridge = true;
  readonly #core: BridgedCore;
  readonly #watches: BridgedWatches;
  readonly #closeTransport: () => void;
  #closing: Promise<void> | undefined;

  constructor(
    settings: BridgedSettings,
    transport: Transport,
    unary: UnaryCaller,
    closeTransport: () => void,
    binaryWire: boolean,
    connection: GrpcConnection | undefined,
  ) {
    this.sessionId = settings.sessionId;
    this.#closeTransport = closeTransport;
    const session = createSessionGuard(settings.sessionId);
    const policy = session.wrap(
      createCallPolicy({
        deadlineMs: settings.deadlineMs,
        retry: settings.retry,
        target: settings.url,
        label: `the BridgedState of session ${settings.sessionId}`,
      }),
    );
    const watchContext = {
      sessionId: settings.sessionId,
      incarnation: () => this.incarnation,
      client: createClient(BridgeService, transport),
      transport,
      ...(connection === undefined ? {} : { connection }),
      translateError: (error: unknown) =>
        stateErrorOf(error, { closed: policy.closed, target: settings.url }),
      target: settings.url,
      ...(settings.watch === undefined ? {} : { options: settings.watch }),
    };
    this.#watches = createBridgedWatches(watchContext);
    // The cache's watches have a consumer (and so a multiplexed stream) of their own: they are
    // not the user's, and listWatchers() does not show them.
    const cache =
      settings.cache === undefined
        ? undefined
        : createNearCache({
            watches: createBridgedWatches(watchContext),
            onWatchError: (error) => session.observe(error),
            options: settings.cache,
          });
    this.#core = {
      sessionId: settings.sessionId,
      source: settings.source,
      unary,
      policy,
      session,
      types: createTypeCache(),
      cache,
      binaryWire,
    };
    this.capabilities = Object.freeze({
      atomicUpdates: true,
      compareAndSet: true,
      watch: this.#watches.supported,
      persistence: false,
      distribution: true,
      linearizableReads: cache === undefined,
    });
  }

  /**
   * Gets or creates the session, and asks the server what backs it; safe to repeat, so it is
   * retried like a read.
   */
  async initialize(): Promise<void> {
    const sessionId = this.sessionId;
    const [response, ping] = await Promise.all([
      this.#core.policy.idempotent((call) =>
        this.#core.unary(BridgeService.method.initializeSession, { sessionId }, call),
      ),
      this.#core.policy.idempotent((call) => this.#core.unary(BridgeService.method.ping, {}, call)),
    ]);
    this.created = response.created;
    this.incarnation = response.session?.incarnation ?? "";
    this.store = Object.freeze({
      kind: ping.storeKind,
      persistence: ping.persistence,
      distribution: ping.distribution,
    });
    // Every BridgedState shares its session with other processes through the server
    // (distribution); it survives a restart of that server only on a persistent store.
    this.capabilities = Object.freeze({ ...this.capabilities, persistence: ping.persistence });
  }

  register(
    name: string,
    type: VariableType,
    initial: unknown,
    options?: RegisterOptions,
  ): Promise<RegisteredVariable> {
    return registerVariable(this.#core, name, type, initial, options);
  }

  get(identifier: string, options?: GetOptions): Promise<VariableValue> {
    return readValue(this.#core, identifier, options);
  }

  getVariable(identifier: string, options?: GetOptions): Promise<Variable> {
    return readVariable(this.#core, identifier, options);
  }

  getMany(identifiers: Iterable<string>, options?: GetOptions): Promise<Map<string, VariableValue>> {
    return readMany(this.#core, identifiers, options);
  }

  list(pattern?: string): Promise<Variable[]> {
    return listVariables(this.#core, pattern);
  }

  set(identifier: string, value: unknown, options?: SetOptions): Promise<number> {
    return setVariable(this.#core, identifier, value, options);
  }

  updateMany(updates: Updates, options?: UpdateManyOptions): Promise<UpdateManyResult> {
    return updateVariables(this.#core, updates, options);
  }

  delete(identifier: string): Promise<void> {
    return deleteVariable(this.#core, identifier);
  }

  export(): Promise<ExportDocument> {
    return exportSession(this.#core);
  }

  import(document: unknown): Promise<void> {
    return importSession(this.#core, document);
  }

  async watch(
    identifiers: Iterable<string>,
    watcher: Watcher,
    options: StreamWatchOptions = {},
  ): Promise<WatchHandle> {
    assertOpen(this.#core);
    if (!this.#core.policy.closed) this.#core.session.assertLive();
    let handle: WatchHandle;
    try {
      handle = await this.#watches.watch([...identifiers], watcher, options);
    } catch (error) {
      this.#core.session.observe(error);
      throw error;
    }
    // A watch that ends with session_expired (its session ended, or was recreated) ends the
    // provider's session too.
    void handle.done.then((error) => this.#core.session.observe(error));
    return handle;
  }

  listWatchers(): WatchInfo[] {
    return this.#watches.list();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#core.policy.close();
      try {
        await Promise.all([this.#watches.close(), this.#core.cache?.close()]);
      } finally {
        this.#core.types.clear();
        this.#closeTransport();
      }
    })();
    return this.#closing;
  }
}
