import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { BridgeService, type VariableUpdateSchema } from "@statebridge/proto";
import {
  assertExpectedVersion,
  assertVariableName,
  assertVariableType,
  type Capabilities,
  createExport,
  describe,
  type ExportDocument,
  type GetOptions,
  isStateError,
  parseExport,
  type RegisteredVariable,
  type RegisterOptions,
  type SetOptions,
  StateError,
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
import { createPreEncodedImportRequest } from "./import-encoding.js";
import { createNearCache } from "./near-cache.js";
import { createSessionGuard } from "./session-guard.js";
import { createBridgeTransport } from "./transport.js";
import { createTypeCache } from "./type-cache.js";
import { createConnectUnaryCaller, type UnaryCaller } from "./unary-caller.js";
import {
  type Encoding,
  encodeConstraints,
  encodeFor,
  encodeMetadata,
  encodeValue,
  isWellFormed,
  type WireValueKind,
} from "./value-encoding.js";
import {
  fetchVariable,
  listVariables,
  ownEntry,
  readMany,
  readValue,
  readVariable,
  requireVariable,
} from "./variable-reads.js";
import { type BridgedWatches, createBridgedWatches } from "./watch.js";
import { metadataFromJson, typeOf, variableFromWire, variableToWire } from "./wire-variable.js";

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

type UpdateInit = MessageInitShape<typeof VariableUpdateSchema>;

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

  async register(
    name: string,
    type: VariableType,
    initial: unknown,
    options: RegisterOptions = {},
  ): Promise<RegisteredVariable> {
    assertOpen(this.#core);
    // Fields the wire cannot carry faithfully are checked with the shared type system, the
    // same code the server runs: a non-string name or type would be coerced to text, a lone
    // surrogate replaced by U+FFFD in UTF-8, and JSON would turn NaN into null or drop a
    // RegExp instead of refusing them.
    if (typeof name !== "string" || !isWellFormed(name)) assertVariableName(name);
    if (typeof type !== "string") assertVariableType(type);
    const description = options.description;
    if (description !== undefined && typeof description !== "string") {
      throw new StateError("invalid_value", `description must be a string, got ${describe(description)}`);
    }
    const constraintsJson = encodeConstraints(type, options.constraints);
    const metadataJson = encodeMetadata(options.metadata);
    const response = await this.#core.policy.once((call) =>
      this.#core.unary(
        BridgeService.method.registerVariable,
        {
          sessionId: this.sessionId,
          name,
          type,
          initialValue: { kind: encodeValue(name, type, initial) },
          constraintsJson,
          metadataJson,
          description: description ?? "",
          source: this.#core.source,
        },
        call,
      ),
    );
    const variable = requireVariable(response.variable);
    // A name cached for a variable deleted elsewhere is now another variable's.
    this.#core.cache?.forget(variable.name);
    const registeredType = typeOf(variable);
    this.#core.types.remember({ id: variable.id, name: variable.name, type: registeredType });
    return Object.freeze({
      id: variable.id,
      name: variable.name,
      type: registeredType,
      version: Number(variable.version),
      revision: Number(response.revision),
    });
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

  async set(identifier: string, value: unknown, options: SetOptions = {}): Promise<number> {
    const cache = this.#core.cache;
    if (cache === undefined) return this.#set(identifier, value, options);
    try {
      const version = await this.#set(identifier, value, options);
      cache.wrote(identifier, version);
      return version;
    } catch (error) {
      // A write that failed may still have applied (a deadline): the cached entry goes.
      cache.forget(identifier);
      throw error;
    }
  }

  async #set(identifier: string, value: unknown, options: SetOptions): Promise<number> {
    assertOpen(this.#core);
    const metadataJson = encodeMetadata(options.metadata);
    const expectedVersion =
      options.expectedVersion === undefined
        ? undefined
        : BigInt(assertExpectedVersion(options.expectedVersion));
    const send = (kind: WireValueKind) =>
      this.#core.policy.once((call) =>
        this.#core.unary(
          BridgeService.method.setVariable,
          {
            sessionId: this.sessionId,
            identifier,
            value: { kind },
            metadataJson,
            source: this.#core.source,
            ...(expectedVersion === undefined ? {} : { expectedVersion }),
          },
          call,
        ),
      );
    const encoding = encodeFor(this.#core.types, identifier, value);
    let response: Awaited<ReturnType<typeof send>>;
    try {
      response = await send(encoding.kind);
    } catch (error) {
      // A stale cached type (the variable was replaced by one of another type elsewhere) puts
      // the value in a field the server refuses; a refused write changed nothing, so it is
      // safe to send once more in the field the value's own kind suggests.
      if (!encoding.fromCache || !isStateError(error, "invalid_value")) throw error;
      this.#core.types.forget(identifier);
      response = await send(encoding.fallback);
    }
    return Number(response.version);
  }

  async updateMany(updates: Updates, options: UpdateManyOptions = {}): Promise<UpdateManyResult> {
    const cache = this.#core.cache;
    if (cache === undefined) return this.#updateMany(updates, options);
    try {
      const result = await this.#updateMany(updates, options);
      for (const [identifier, version] of result.versions) cache.wrote(identifier, version);
      return result;
    } catch (error) {
      // Whatever applied or may have applied: those entries go.
      if (updates instanceof Map || (typeof updates === "object" && updates !== null)) {
        for (const [identifier] of entriesOf(updates)) cache.forget(identifier);
      }
      throw error;
    }
  }

  async #updateMany(updates: Updates, options: UpdateManyOptions): Promise<UpdateManyResult> {
    assertOpen(this.#core);
    const entries = entriesOf(updates);
    const metadataJson = encodeMetadata(options.metadata);
    const atomic = options.atomic === true;
    const encodings = entries.map(([identifier, value]) => encodeFor(this.#core.types, identifier, value));
    const send = (useFallback: boolean) =>
      this.#core.policy.once((call) =>
        this.#core.unary(
          BridgeService.method.setVariables,
          {
            sessionId: this.sessionId,
            updates: entries.map(([identifier], index): UpdateInit => {
              const encoding = encodings[index] as Encoding;
              return { identifier, value: { kind: useFallback ? encoding.fallback : encoding.kind } };
            }),
            metadataJson,
            atomic,
            source: this.#core.source,
          },
          call,
        ),
      );
    let response: Awaited<ReturnType<typeof send>>;
    try {
      response = await send(false);
    } catch (error) {
      if (!isStateError(error)) throw error;
      if (error.code === "partial_failure") {
        // The applied part cannot be undone, so a failure caused by a stale cached type is
        // reported as is; forgetting the type lets the caller's retry succeed.
        for (const [identifier, failure] of error.failures) {
          if (failure.code === "invalid_value") this.#core.types.forget(identifier);
        }
        throw error;
      }
      // An atomic batch that was refused changed nothing: like set(), retry once in the
      // fields the values' own kinds suggest if a cached type may have been stale.
      if (error.code !== "invalid_value" || !encodings.some((encoding) => encoding.fromCache)) throw error;
      for (const [identifier] of entries) this.#core.types.forget(identifier);
      response = await send(true);
    }
    const versions = new Map<string, number>();
    for (const [identifier] of entries) {
      const version = ownEntry(response.versions, identifier);
      if (version !== undefined) {
        versions.set(identifier, Number(version));
      } else {
        // See getMany(): a key like `__proto__` cannot survive the decoded protobuf map, so
        // its version is read back.
        // Read without the traced getVariable(): one updateMany() is one operation event.
        versions.set(identifier, Number((await fetchVariable(this.#core, identifier)).version));
      }
    }
    return { revision: Number(response.revision), versions };
  }

  async delete(identifier: string): Promise<void> {
    try {
      await this.#core.policy.once((call) =>
        this.#core.unary(
          BridgeService.method.deleteVariable,
          { sessionId: this.sessionId, identifier, source: this.#core.source },
          call,
        ),
      );
    } finally {
      this.#core.cache?.forget(identifier);
    }
    this.#core.types.forget(identifier);
  }

  async export(): Promise<ExportDocument> {
    const sessionId = this.sessionId;
    const response = await this.#core.policy.idempotent((call) =>
      this.#core.unary(BridgeService.method.exportSession, { sessionId }, call),
    );
    const variables = response.variables.map(variableFromWire);
    for (const variable of variables) this.#core.types.remember(variable);
    const document = createExport({
      sessionId: response.sessionId,
      revision: Number(response.revision),
      metadata: metadataFromJson(response.metadataJson),
      variables,
    });
    return { ...document, exportedAt: Number(response.exportedAtMs) || document.exportedAt };
  }

  async import(document: unknown): Promise<void> {
    // Parsed here so that a malformed document is refused with a precise `invalid_export`
    // naming its first problem, and so that values are sent in their types' own fields.
    assertOpen(this.#core);
    const parsed = parseExport(document);
    const metadataJson = Object.keys(parsed.metadata).length === 0 ? "" : JSON.stringify(parsed.metadata);
    const request = { sessionId: this.sessionId, revision: parsed.revision, metadataJson };
    const message = this.#core.binaryWire
      ? createPreEncodedImportRequest({ ...request, variables: parsed.variables })
      : { ...request, revision: BigInt(parsed.revision), variables: parsed.variables.map(variableToWire) };
    await this.#core.policy.once((call) =>
      this.#core.unary(BridgeService.method.importSession, message, call),
    );
    for (const variable of parsed.variables) {
      this.#core.types.remember(variable);
      this.#core.cache?.forget(variable.name);
      this.#core.cache?.forget(variable.id);
    }
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

function entriesOf(updates: Updates): [string, unknown][] {
  if (updates instanceof Map) return [...updates];
  if (typeof updates !== "object" || updates === null || Array.isArray(updates)) {
    throw new StateError("invalid_value", `updates must be a Map or an object, got ${describe(updates)}`);
  }
  const record = updates as { readonly [identifier: string]: unknown };
  return Object.keys(record).map((identifier) => [identifier, record[identifier]]);
}
