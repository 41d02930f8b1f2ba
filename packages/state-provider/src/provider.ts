import type { ExportDocument } from "./export-format.js";
import type {
  Constraints,
  Metadata,
  RegisteredVariable,
  Variable,
  VariableType,
  VariableValue,
} from "./variable.js";
import type { Watcher, WatchHandle, WatchInfo, WatchOptions } from "./watch.js";

/** What a backend can do; every flag is truthful and the compliance suite skips by it. */
export interface Capabilities {
  /** `updateMany(…, { atomic: true })` is all or nothing, in one revision. */
  readonly atomicUpdates: boolean;
  /** `set(…, { expectedVersion })` is honoured. */
  readonly compareAndSet: boolean;
  /** `watch()` delivers changes. */
  readonly watch: boolean;
  /** State survives the process that holds it. */
  readonly persistence: boolean;
  /** Other processes can see and change the same session. */
  readonly distribution: boolean;
  /**
   * Every read sees every write that completed before it, whoever made it. False for a client
   * that serves reads from a near cache: its reads are monotonic and see its own writes, but a
   * write made elsewhere becomes visible only when the cache hears of it (eventually).
   */
  readonly linearizableReads: boolean;
}

/** Options of `register()`. */
export interface RegisterOptions {
  /** Per-type constraints, validated now; see {@link Constraints}. */
  readonly constraints?: Constraints;
  /** Initial metadata. */
  readonly metadata?: Metadata;
  /** A human-readable description; stored as `metadata.description`. */
  readonly description?: string;
}

/** Options of `get()`, `getVariable()` and `getMany()`. */
export interface GetOptions {
  /**
   * Read from the source of truth even if the provider keeps a near cache (it bypasses the
   * cache, and the answer then refreshes it). Providers without a cache read fresh anyway.
   */
  readonly fresh?: boolean;
}

/** Options of `set()`. */
export interface SetOptions {
  /** Merged into the variable's metadata. */
  readonly metadata?: Metadata;
  /** Compare-and-set: the write applies only if the variable's version is this. */
  readonly expectedVersion?: number;
}

/** Options of `updateMany()`. */
export interface UpdateManyOptions {
  /** Merged into the metadata of every updated variable. */
  readonly metadata?: Metadata;
  /** All or nothing (default false: apply what validates, report the rest). */
  readonly atomic?: boolean;
}

/** What `updateMany()` returns. */
export interface UpdateManyResult {
  /** The session revision the batch took. */
  readonly revision: number;
  /** Each updated identifier, as given, with its new version. */
  readonly versions: ReadonlyMap<string, number>;
}

/**
 * The updates of a batch: identifier → new value. A `Map` is preferred: a plain object
 * cannot carry an identifier named `__proto__`.
 */
export type Updates = ReadonlyMap<string, unknown> | { readonly [identifier: string]: unknown };

/**
 * The contract of every statebridge backend: one object per session, every operation async so
 * that backends are interchangeable.
 *
 * An identifier is a variable's name or its id; the two can never be ambiguous. Every
 * operation after {@link StateProvider.close} fails with `closed`. A remote backend can
 * additionally fail any operation with `unavailable` (server unreachable), `session_expired`
 * (the session is gone), `unauthenticated` (wrong token) or `resource_exhausted` (a quota).
 */
export interface StateProvider {
  /** The session this provider serves. */
  readonly sessionId: string;
  /** What this backend can do. */
  readonly capabilities: Capabilities;
  /** True when this backend needs a bridge-server. */
  readonly requiresBridge: boolean;

  /**
   * Registers a new variable with version 0.
   * @returns its id, name, type, version (0) and the revision the registration took.
   * @throws `already_exists` if the name is taken; `invalid_value` for an empty, malformed or
   *   id-shaped name, malformed constraints or metadata, or a value of the wrong kind;
   *   `invalid_type` for an unknown type; `constraint_violation` if the initial value breaks
   *   a constraint.
   */
  register(
    name: string,
    type: VariableType,
    initial: unknown,
    options?: RegisterOptions,
  ): Promise<RegisteredVariable>;

  /**
   * Reads a value.
   * @returns the normalized value (frozen for arrays and tensors).
   * @throws `not_found` if no variable has this name or id.
   */
  get(identifier: string, options?: GetOptions): Promise<VariableValue>;

  /**
   * Reads a whole variable.
   * @throws `not_found` if no variable has this name or id.
   */
  getVariable(identifier: string, options?: GetOptions): Promise<Variable>;

  /**
   * Writes a value; with `expectedVersion`, only if the variable's version is that one.
   * @returns the new version.
   * @throws `not_found`; `invalid_value` (wrong kind, malformed metadata or expectedVersion);
   *   `constraint_violation`; `version_conflict` if `expectedVersion` is stale (nothing changes).
   */
  set(identifier: string, value: unknown, options?: SetOptions): Promise<number>;

  /**
   * Reads many values at once.
   * @returns the values found, keyed by the identifier as given; missing ones are skipped.
   */
  getMany(identifiers: Iterable<string>, options?: GetOptions): Promise<Map<string, VariableValue>>;

  /**
   * Writes many values in one revision. Atomic: all or nothing. Non-atomic: what validates is
   * applied, and if anything failed a `partial_failure` error names each failure (in
   * `failures`) and each applied update (in `applied`).
   * @throws with `atomic`, the first failure's own code (`not_found`, `invalid_value`,
   *   `constraint_violation`) and nothing changes; without, `partial_failure`.
   */
  updateMany(updates: Updates, options?: UpdateManyOptions): Promise<UpdateManyResult>;

  /**
   * Lists variables in creation order.
   * @param pattern - an anchored glob: `*` any run of characters, `?` one character, `\` escapes
   *   the next; every other character is literal.
   * @throws `invalid_value` for a pattern that is not a string.
   */
  list(pattern?: string): Promise<Variable[]>;

  /**
   * Deletes a variable; its watchers get a `deleted` event.
   * @throws `not_found`.
   */
  delete(identifier: string): Promise<void>;

  /**
   * Exports the whole session as a versioned, JSON-serializable document. Lossless: NaN,
   * ±Infinity, -0 and large arrays survive `JSON.stringify` → `JSON.parse` → `import`.
   */
  export(): Promise<ExportDocument>;

  /**
   * Imports an export, all or nothing, keeping ids, versions, metadata, constraints, timestamps
   * and sources. Into an empty session, the session takes the document's revision.
   * @throws `invalid_export` for a malformed document (naming the first problem);
   *   `already_exists` if a variable id or name is already present. Nothing changes either way.
   */
  import(document: unknown): Promise<void>;

  /**
   * Watches variables. Every identifier must exist now. See {@link WatchOptions} for
   * initial values, filters and resuming.
   * @throws `not_found` for an unknown identifier; `invalid_value` for an empty list or a
   *   malformed `fromRevision`.
   */
  watch(identifiers: Iterable<string>, watcher: Watcher, options?: WatchOptions): Promise<WatchHandle>;

  /** The live watches of this provider. */
  listWatchers(): WatchInfo[];

  /** Releases everything (watches, connections). Idempotent; later calls fail with `closed`. */
  close(): Promise<void>;
}
