import type {
  DecodedExportedVariable,
  ExportDocument,
  Metadata,
  StateError,
  Variable,
  VariableType,
  WatchEvent,
} from "@statebridge/state-provider";

/** Options of {@link createSessionStore}. Every limit refuses with `resource_exhausted`. */
export interface SessionStoreOptions {
  /** Sliding session TTL in seconds. Default 3600. */
  readonly ttlSeconds?: number;
  /** How often expired sessions are swept, in milliseconds. Default 30,000. */
  readonly sweepIntervalMs?: number;
  /** Most sessions held at once. Default 10,000. */
  readonly maxSessions?: number;
  /** Most variables per session. Default 100,000. */
  readonly maxVariablesPerSession?: number;
  /** Largest value, in bytes of its wire form (8 per number, UTF-8 for text). Default 64 MiB. */
  readonly maxValueBytes?: number;
  /** Most watchers per session. Default 100,000. */
  readonly maxWatchersPerSession?: number;
  /** Changes kept per session for resuming watches. Default 1,000. */
  readonly historySize?: number;
  /**
   * Bytes of changes kept per session for resuming watches (each change counts its old and new
   * values, its metadata and 256 bytes); the oldest are dropped first, and a watcher resuming
   * behind them resyncs. Default 64 MiB.
   */
  readonly historyBytes?: number;
  /**
   * Bytes of values (with their metadata and 256 bytes per variable) all sessions may hold
   * together. A write that would exceed it fails with `resource_exhausted` and changes nothing;
   * deleted variables and ended sessions give their bytes back. Change history lives in what
   * values leave free: it is dropped, least recently written sessions first, to stay within it.
   * Default: half of V8's heap limit (`v8.getHeapStatistics().heap_size_limit`), where the
   * values live, leaving the other half to requests, responses and watch queues.
   */
  readonly maxMemoryBytes?: number;
  /** The clock, in epoch milliseconds; tests replace it. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * How many ended session ids are remembered, so that `session_expired` can say whether a
   * session expired or was deleted. Older ones are reported as "does not exist or has expired".
   * Default 10,000.
   */
  readonly endedSessionsRemembered?: number;
  /**
   * Receives what a {@link WatchListener} throws. A throwing listener never undoes the change
   * nor stops delivery to other listeners. Default: ignore.
   */
  readonly onListenerError?: (error: unknown) => void;
}

/** A session as the store describes it. */
export interface SessionInfo {
  readonly sessionId: string;
  /**
   * This life of the session: 16 random hex digits created with it. A session created again
   * under the same id (after it was deleted, expired, or lost with a restarted server) has
   * another, so a watcher resuming with the old one is told instead of following a new history.
   */
  readonly incarnation: string;
  /** Counts mutations; one atomic batch is one revision. */
  readonly revision: number;
  readonly createdAt: number;
  readonly lastAccessedAt: number;
  readonly expiresAt: number;
  readonly ttlSeconds: number;
  readonly variableCount: number;
  readonly metadata: Metadata;
}

/** Options of a write: who wrote. */
export interface WriteOptions {
  /** The writer's name (`typescript`, `python`, …); empty or absent means `unknown`. */
  readonly source?: string;
}

/**
 * A value whose decoding needs its variable's type (a wire value), given to
 * {@link SessionStore.set} or {@link SessionStore.updateMany} in place of a value so that a
 * server need not read the type first. The store calls it with the type of the variable it
 * writes, after `session_expired` and `not_found` (malformed options may be refused first) and
 * before the value's checks and `version_conflict`, and again if the variable turns out to have
 * been re-registered; what it throws is the write's error.
 */
export type ValueDecoder = (type: VariableType) => unknown;

/** Every event of one revision that one watcher sees, delivered together. */
export interface WatchEventBatch {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  /**
   * What the events hold, in bytes: their old and new values (8 per number, UTF-8 for text),
   * metadata JSON and 256 per event. Close to their protobuf size; watch streams count it
   * against their byte limit.
   */
  readonly bytes: number;
}

/**
 * A watcher as the store sees it. The store calls it after a change is committed, in revision
 * order, each revision once; the caller (a stream) queues and drains. Calls never overlap.
 */
export interface WatchListener {
  /**
   * Events of one revision: a set, a whole atomic batch, a deletion, or the initial snapshot.
   * The batch may be the same object for every watcher that names the variable alike: read it,
   * never change it.
   */
  onEvents(batch: WatchEventBatch): void;
  /**
   * The watch ended: `session_expired` when its session expired, was deleted or was lost by
   * the backend; `closed` when the store closed; `unavailable` when the backend cannot be
   * reached (the client reconnects and resumes).
   */
  onEnd(error: StateError): void;
}

/** A live watch in the store. */
export interface WatchSubscription {
  /** The revision the watch started at (its snapshot's, or the resume point). */
  readonly startRevision: number;
  /**
   * `ids[i]` is the id of the variable `identifiers[i]` named at the start ("" for a resumed
   * watch's variable deleted since, whose deletion is not replayed). The watch follows these.
   */
  readonly ids: readonly string[];
  /** The watched session's incarnation ({@link SessionInfo.incarnation}). */
  readonly incarnation: string;
  /**
   * The revision up to which every event of this watch has been handed to its listener
   * (revisions that hold none for it included). Heartbeats carry it and clients count what
   * they got up to it as seen: it is never ahead of a replay still being delivered, nor of a
   * change this watch will still be handed.
   */
  currentRevision(): number;
  /** Releases the observer. Idempotent. */
  close(): void;
}

/** Counters of a store. */
export interface SessionStoreStats {
  readonly sessionsCreated: number;
  readonly sessionsExpired: number;
  readonly sessionsDeleted: number;
  readonly sessionsCurrent: number;
  readonly variables: number;
  readonly watchers: number;
  /** Bytes of values held, as counted against `maxMemoryBytes`. */
  readonly valueBytes: number;
  /** Bytes of change history held, in all sessions. */
  readonly historyBytes: number;
  /** Operations by kind: register, get, set, updateMany, list, delete, export, import, watch… */
  readonly operations: ReadonlyMap<string, number>;
}

/** What backs a store, as clients are told (BridgedState's capabilities follow it). */
export interface StoreDescription {
  /** `memory` for the embedded store, `redis` for `@statebridge/session-store-redis`. */
  readonly kind: string;
  /** Sessions survive a restart of the process serving them. */
  readonly persistence: boolean;
  /** Several bridge-servers can serve the same sessions. */
  readonly distribution: boolean;
}

/** One page of {@link SessionStore.listSessions}. */
export interface SessionPage {
  readonly sessions: readonly SessionInfo[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

/**
 * Many sessions of variables. Every method returns a promise that rejects with `StateError`
 * (a backend that cannot be reached: `unavailable`, promptly, never a hang); a session that
 * expired or was deleted answers `session_expired`, and nothing silently recreates it except
 * {@link SessionStore.initializeSession}. `@statebridge/session-store/testing` holds the
 * compliance suite every implementation passes.
 */
export interface SessionStore {
  /** What backs this store. */
  readonly description: StoreDescription;
  /** False while the backend cannot be reached (health answers NOT_SERVING then). */
  available(): boolean;
  /**
   * Gets a session, or creates it. An existing session keeps its metadata and TTL length (its
   * TTL slides); an expired or deleted one is created anew, empty.
   * @throws `invalid_value` for an empty session id or a malformed TTL or metadata;
   *   `resource_exhausted` when `maxSessions` are held.
   */
  initializeSession(
    sessionId: string,
    options?: { readonly metadata?: Metadata; readonly ttlSeconds?: number },
  ): Promise<{ readonly session: SessionInfo; readonly created: boolean }>;
  getSession(sessionId: string): Promise<SessionInfo>;
  /** Slides the TTL from now (a watched session's does not run out anyway). */
  heartbeat(sessionId: string): Promise<SessionInfo>;
  /** Deletes a session, ending its watches with `session_expired`. @returns whether it existed. */
  deleteSession(sessionId: string): Promise<boolean>;
  /**
   * Live sessions in id order, at most `limit` (default 100, at most 1,000) per page, starting
   * after the id `after`; `prefix` keeps only ids that start with it. Does not slide TTLs.
   */
  listSessions(options?: {
    readonly limit?: number;
    readonly after?: string;
    readonly prefix?: string;
  }): Promise<SessionPage>;

  register(
    sessionId: string,
    name: string,
    type: VariableType | string,
    initial: unknown,
    options?: WriteOptions & {
      readonly constraints?: unknown;
      readonly metadata?: unknown;
      readonly description?: string;
    },
  ): Promise<{ readonly variable: Variable; readonly revision: number }>;
  getVariable(sessionId: string, identifier: string): Promise<Variable>;
  /** Found variables keyed by identifier as given; missing ones are left out. */
  getVariables(sessionId: string, identifiers: Iterable<string>): Promise<Map<string, Variable>>;
  /** Sets a value, or what a {@link ValueDecoder} (values are never functions) makes of it. */
  set(
    sessionId: string,
    identifier: string,
    value: unknown,
    options?: WriteOptions & { readonly metadata?: unknown; readonly expectedVersion?: number },
  ): Promise<{ readonly version: number; readonly revision: number }>;
  /** Sets values (each may be a {@link ValueDecoder}), as one revision when `atomic`. */
  updateMany(
    sessionId: string,
    updates: Iterable<readonly [string, unknown]>,
    options?: WriteOptions & { readonly metadata?: unknown; readonly atomic?: boolean },
  ): Promise<{ readonly revision: number; readonly versions: Map<string, number> }>;
  list(sessionId: string, pattern?: string): Promise<Variable[]>;
  delete(
    sessionId: string,
    identifier: string,
    options?: WriteOptions,
  ): Promise<{ readonly revision: number }>;
  exportSession(sessionId: string): Promise<ExportDocument>;
  /** Imports an export document (created if the session is absent), all or nothing. */
  importSession(
    sessionId: string,
    document: unknown,
  ): Promise<{ readonly revision: number; readonly imported: number }>;
  /**
   * Imports variables whose values are already decoded (as a wire format carries them), with
   * the same checks, messages and all-or-nothing outcome as {@link SessionStore.importSession}:
   * every value goes through the type system once, and no export document is built for it.
   * `revision` and `metadata` are the document's; a problem is an `invalid_export` naming
   * `variables[i].field` (or `revision`, `metadata`).
   */
  importVariables(
    sessionId: string,
    batch: {
      readonly revision: unknown;
      readonly metadata: unknown;
      readonly variables: readonly DecodedExportedVariable[];
    },
  ): Promise<{ readonly revision: number; readonly imported: number }>;

  /**
   * Watches variables. Initial, replayed or resync events reach `listener.onEvents` before any
   * live event, and every batch comes in revision order, once; they may arrive before the
   * returned promise resolves (a caller buffers until it holds the subscription). While a
   * session has a watch open its TTL does not run out; it slides from the end of its last one.
   * @throws `session_expired` if `incarnation` is given and the session's is another (it was
   *   recreated under the same id).
   */
  watch(
    sessionId: string,
    identifiers: readonly string[],
    listener: WatchListener,
    options?: {
      readonly includeInitial?: boolean;
      readonly fromRevision?: number;
      readonly incarnation?: string;
    },
  ): Promise<WatchSubscription>;

  /** Counters as this process sees them (a shared backend's totals may be sampled). */
  stats(): SessionStoreStats;
  /**
   * Removes every expired session now, ending its watches with `session_expired`; the sweep
   * timer calls this. @returns how many sessions expired.
   */
  sweep(): Promise<number>;
  /** Stops the sweeper, ends every watch with `closed` and releases connections. */
  close(): Promise<void>;
}
