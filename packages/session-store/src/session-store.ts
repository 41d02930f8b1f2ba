import { randomBytes } from "node:crypto";
import { getHeapStatistics } from "node:v8";
import {
  createExport,
  describe,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  MAX_IDENTIFIER_LENGTH,
  type Metadata,
  mergeMetadata,
  normalizeMetadata,
  type ParsedExport,
  parseExport,
  parseExportedVariables,
  StateError,
  type Variable,
} from "@statebridge/state-provider";
import { createRevisionHistory, type RevisionHistory } from "@statebridge/state-provider/change-feed";
import type { ChangeRecord } from "./change-record.js";
import { createMemoryBudget } from "./memory-budget.js";
import { openWatch } from "./memory-watch.js";
import { createObserverRegistry, type ObserverRegistry } from "./observer-registry.js";
import { createSessionState, type SessionState } from "./session-state.js";
import {
  checkPageOptions,
  nonNegativeInteger,
  positive,
  positiveInteger,
  sourceOf,
} from "./store-options.js";
import type {
  SessionInfo,
  SessionPage,
  SessionStore,
  SessionStoreOptions,
  SessionStoreStats,
  StoreDescription,
} from "./types.js";

/** The in-memory store: one process's sessions, gone with it. */
const MEMORY_DESCRIPTION: StoreDescription = Object.freeze({
  kind: "memory",
  persistence: false,
  distribution: false,
});

/** Longest accepted session id, in UTF-16 code units: the identifier limit. */
const MAX_SESSION_ID_LENGTH = MAX_IDENTIFIER_LENGTH;

interface Session {
  readonly id: string;
  /** This life of the session: see {@link SessionInfo.incarnation}. */
  readonly incarnation: string;
  readonly createdAt: number;
  lastAccessedAt: number;
  expiresAt: number;
  readonly ttlSeconds: number;
  metadata: Metadata;
  readonly state: SessionState;
  readonly history: RevisionHistory<ChangeRecord>;
  readonly observers: ObserverRegistry;
  /** True while records are being handed to observers; later commits wait in `pending`. */
  delivering: boolean;
  readonly pending: ChangeRecord[];
}

type Ending = "expired" | "deleted";

/**
 * Creates an in-memory store of many sessions: sliding TTLs, per-session revisions, a
 * bounded change history for resuming watches, and an observer registry that hands each
 * committed change to its watchers. This is what a bridge-server hosts.
 *
 * Its work is synchronous inside: every promise is settled when the call returns, so a
 * refusal is a rejection with {@link StateError}, never a throw. After
 * {@link SessionStore.close} every method but `stats()` and `close()` fails with `closed`.
 *
 * @throws `invalid_value` for an option that is not a positive number (or, for
 *   `historySize` and `endedSessionsRemembered`, a non-negative integer).
 */
export function createSessionStore(options: SessionStoreOptions = {}): SessionStore {
  const ttlSeconds = positive(options.ttlSeconds, 3600, "ttlSeconds");
  const sweepIntervalMs = positive(options.sweepIntervalMs, 30_000, "sweepIntervalMs");
  const maxSessions = positiveInteger(options.maxSessions, 10_000, "maxSessions");
  const maxVariables = positiveInteger(options.maxVariablesPerSession, 100_000, "maxVariablesPerSession");
  const maxValueBytes = positiveInteger(options.maxValueBytes, 64 * 1024 * 1024, "maxValueBytes");
  const maxWatchers = positiveInteger(options.maxWatchersPerSession, 100_000, "maxWatchersPerSession");
  const historySize = nonNegativeInteger(options.historySize, 1000, "historySize");
  const historyBytes = positiveInteger(options.historyBytes, 64 * 1024 * 1024, "historyBytes");
  const budget = createMemoryBudget(
    positiveInteger(
      options.maxMemoryBytes,
      Math.floor(getHeapStatistics().heap_size_limit / 2),
      "maxMemoryBytes",
    ),
  );
  const endedRemembered = nonNegativeInteger(
    options.endedSessionsRemembered,
    10_000,
    "endedSessionsRemembered",
  );
  const now = options.now ?? (() => Date.now());
  const onListenerError = options.onListenerError ?? (() => {});

  const sessions = new Map<string, Session>();
  const ended = new Map<string, Ending>();
  const operations = new Map<string, number>();
  /** Sessions whose history holds records, least recently written first. */
  const historyOrder = new Set<Session>();
  let historyHeld = 0;
  let sessionsCreated = 0;
  let sessionsExpired = 0;
  let sessionsDeleted = 0;
  let closed = false;

  const sweeper = setInterval(() => sweep(), sweepIntervalMs);
  sweeper.unref();

  function begin(kind: string): void {
    if (closed) throw new StateError("closed", `the session store is closed; ${kind} is not possible`);
    operations.set(kind, (operations.get(kind) ?? 0) + 1);
  }

  function checkSessionId(sessionId: unknown): string {
    if (typeof sessionId !== "string") {
      throw new StateError("invalid_value", `a session id must be a string, got ${describe(sessionId)}`);
    }
    if (sessionId.length === 0) throw new StateError("invalid_value", "a session id must not be empty");
    if (sessionId.length > MAX_SESSION_ID_LENGTH) {
      throw new StateError(
        "invalid_value",
        `a session id must be at most ${MAX_SESSION_ID_LENGTH} characters, got ${sessionId.length}`,
      );
    }
    return sessionId;
  }

  function goneError(sessionId: string): StateError {
    const quoted = JSON.stringify(sessionId);
    switch (ended.get(sessionId)) {
      case "expired":
        return new StateError(
          "session_expired",
          `session ${quoted} has expired (no activity within its TTL)`,
        );
      case "deleted":
        return new StateError("session_expired", `session ${quoted} was deleted`);
      default:
        return new StateError("session_expired", `session ${quoted} does not exist or has expired`);
    }
  }

  /** A session with a watch open never expires: the watch keeps it alive. */
  function isExpired(session: Session, at: number): boolean {
    if (session.observers.size > 0) {
      touch(session, at);
      return false;
    }
    return at >= session.expiresAt;
  }

  function touch(session: Session, at: number): void {
    session.lastAccessedAt = at;
    session.expiresAt = at + session.ttlSeconds * 1000;
  }

  function endSession(session: Session, ending: Ending): void {
    sessions.delete(session.id);
    if (endedRemembered > 0) {
      ended.delete(session.id);
      ended.set(session.id, ending);
      if (ended.size > endedRemembered) ended.delete(ended.keys().next().value as string);
    }
    if (ending === "expired") sessionsExpired++;
    else sessionsDeleted++;
    session.state.clear();
    resetHistory(session, session.state.revision);
    session.pending.length = 0;
    session.observers.endAll(goneError(session.id));
  }

  /** The live session, its TTL slid. @throws `session_expired` if it is gone or overdue. */
  function access(sessionId: unknown): Session {
    const id = checkSessionId(sessionId);
    const session = sessions.get(id);
    if (session === undefined) throw goneError(id);
    const at = now();
    if (isExpired(session, at)) {
      endSession(session, "expired");
      throw goneError(id);
    }
    touch(session, at);
    return session;
  }

  function newSession(id: string, metadata: Metadata, sessionTtl: number): Session {
    if (sessions.size >= maxSessions) sweep();
    if (sessions.size >= maxSessions) {
      throw new StateError(
        "resource_exhausted",
        `the store holds ${sessions.size} sessions, the most allowed; cannot create session ${JSON.stringify(id)}`,
      );
    }
    const at = now();
    const session: Session = {
      id,
      incarnation: randomBytes(8).toString("hex"),
      createdAt: at,
      lastAccessedAt: at,
      expiresAt: at + sessionTtl * 1000,
      ttlSeconds: sessionTtl,
      metadata,
      state: createSessionState({
        sessionId: id,
        now,
        maxVariables,
        maxValueBytes,
        budget,
        onCommit: (record) => commit(session, record),
      }),
      history: createRevisionHistory<ChangeRecord>({
        capacity: historySize,
        maxBytes: historyBytes,
        bytesOf: (record) => record.bytes,
      }),
      observers: createObserverRegistry(onListenerError),
      delivering: false,
      pending: [],
    };
    return session;
  }

  function adopt(session: Session): void {
    sessions.set(session.id, session);
    ended.delete(session.id);
    sessionsCreated++;
  }

  function resetHistory(session: Session, base: number): void {
    historyHeld -= session.history.bytes;
    session.history.reset(base);
    historyOrder.delete(session);
  }

  /**
   * Keeps a record in its session's history, then drops history — least recently written
   * sessions first, oldest records first — until values and history fit the memory budget.
   */
  function remember(session: Session, record: ChangeRecord): void {
    historyHeld -= session.history.bytes;
    session.history.push(record);
    historyHeld += session.history.bytes;
    historyOrder.delete(session);
    if (session.history.size > 0) historyOrder.add(session);
    while (budget.values + historyHeld > budget.limit) {
      const oldest = historyOrder.values().next();
      if (oldest.done === true) break;
      historyHeld -= oldest.value.history.dropOldest();
      if (oldest.value.history.size === 0) historyOrder.delete(oldest.value);
    }
  }

  /** Records a committed change and hands it to observers, strictly in revision order. */
  function commit(session: Session, record: ChangeRecord): void {
    remember(session, record);
    if (session.observers.size === 0 && !session.delivering) return;
    if (session.delivering) {
      session.pending.push(record);
      return;
    }
    exclusively(session, () => session.observers.dispatch(record));
  }

  /**
   * Runs a delivery so that commits made by listeners during it are delivered after it, not
   * in the middle. Nested calls run at once: their caller already holds the turn.
   */
  function exclusively(session: Session, delivery: () => void): void {
    if (session.delivering) {
      delivery();
      return;
    }
    session.delivering = true;
    try {
      delivery();
      for (let index = 0; index < session.pending.length; index++) {
        session.observers.dispatch(session.pending[index] as ChangeRecord);
      }
    } finally {
      session.pending.length = 0;
      session.delivering = false;
    }
  }

  function info(session: Session): SessionInfo {
    return {
      sessionId: session.id,
      incarnation: session.incarnation,
      revision: session.state.revision,
      createdAt: session.createdAt,
      lastAccessedAt: session.lastAccessedAt,
      expiresAt: session.expiresAt,
      ttlSeconds: session.ttlSeconds,
      variableCount: session.state.size,
      metadata: session.metadata,
    };
  }

  /** Imports validated variables into a session (created if absent or expired), all or nothing. */
  function importParsed(id: string, parsed: ParsedExport): { revision: number; imported: number } {
    const existing = sessions.get(id);
    let session: Session;
    let created = false;
    if (existing !== undefined && !isExpired(existing, now())) {
      session = access(id);
    } else {
      if (existing !== undefined) endSession(existing, "expired");
      session = newSession(id, Object.freeze(Object.create(null)) as Metadata, ttlSeconds);
      created = true;
    }
    const result = session.state.import(parsed);
    if (result.adopted) resetHistory(session, result.revision);
    session.metadata = mergeMetadata(session.metadata, parsed.metadata);
    if (created) adopt(session);
    return { revision: result.revision, imported: result.imported };
  }

  function sweep(): number {
    if (closed) return 0;
    const at = now();
    let count = 0;
    for (const session of sessions.values()) {
      if (isExpired(session, at)) {
        endSession(session, "expired");
        count++;
      }
    }
    return count;
  }

  function listSessions(options: unknown): SessionPage {
    const { limit, after, prefix } = checkPageOptions(options);
    const at = now();
    const ids: string[] = [];
    for (const [id, session] of sessions) {
      if (after !== undefined && id <= after) continue;
      if (!id.startsWith(prefix)) continue;
      if (session.observers.size === 0 && at >= session.expiresAt) continue;
      ids.push(id);
    }
    ids.sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
    const page = ids.slice(0, limit).map((id) => info(sessions.get(id) as Session));
    const last = page[page.length - 1];
    return ids.length > limit && last !== undefined
      ? { sessions: page, next: last.sessionId }
      : { sessions: page };
  }

  return {
    description: MEMORY_DESCRIPTION,

    available: () => !closed,

    async initializeSession(sessionId, initializeOptions = {}) {
      begin("initializeSession");
      const id = checkSessionId(sessionId);
      const sessionTtl = positive(initializeOptions.ttlSeconds, ttlSeconds, "ttlSeconds");
      const metadata = normalizeMetadata(initializeOptions.metadata, "session metadata");
      const existing = sessions.get(id);
      if (existing !== undefined) {
        const at = now();
        if (!isExpired(existing, at)) {
          touch(existing, at);
          return { session: info(existing), created: false };
        }
        endSession(existing, "expired");
      }
      const session = newSession(id, metadata, sessionTtl);
      adopt(session);
      return { session: info(session), created: true };
    },

    async getSession(sessionId) {
      begin("getSession");
      return info(access(sessionId));
    },

    async heartbeat(sessionId) {
      begin("heartbeat");
      return info(access(sessionId));
    },

    async listSessions(options) {
      begin("listSessions");
      return listSessions(options);
    },

    async deleteSession(sessionId) {
      begin("deleteSession");
      const id = checkSessionId(sessionId);
      const session = sessions.get(id);
      if (session === undefined) return false;
      if (isExpired(session, now())) {
        endSession(session, "expired");
        return false;
      }
      endSession(session, "deleted");
      return true;
    },

    async register(sessionId, name, type, initial, registerOptions = {}) {
      begin("register");
      const session = access(sessionId);
      return session.state.register(name, type, initial, {
        constraints: registerOptions.constraints,
        metadata: registerOptions.metadata,
        description: registerOptions.description,
        source: sourceOf(registerOptions.source),
      });
    },

    async getVariable(sessionId, identifier) {
      begin("get");
      return access(sessionId).state.require(identifier);
    },

    async getVariables(sessionId, identifiers) {
      begin("getMany");
      const { state } = access(sessionId);
      const found = new Map<string, Variable>();
      for (const identifier of identifiers) {
        const variable = state.find(identifier);
        if (variable !== undefined) found.set(identifier, variable);
      }
      return found;
    },

    async set(sessionId, identifier, value, setOptions = {}) {
      begin("set");
      const session = access(sessionId);
      return session.state.set(identifier, value, {
        metadata: setOptions.metadata,
        expectedVersion: setOptions.expectedVersion,
        source: sourceOf(setOptions.source),
      });
    },

    async updateMany(sessionId, updates, batchOptions = {}) {
      begin("updateMany");
      const session = access(sessionId);
      return session.state.updateMany(updates, {
        metadata: batchOptions.metadata,
        atomic: batchOptions.atomic === true,
        source: sourceOf(batchOptions.source),
      });
    },

    async list(sessionId, pattern) {
      begin("list");
      return access(sessionId).state.list(pattern);
    },

    async delete(sessionId, identifier, deleteOptions = {}) {
      begin("delete");
      const session = access(sessionId);
      return session.state.delete(identifier, { source: sourceOf(deleteOptions.source) });
    },

    async exportSession(sessionId) {
      begin("export");
      const session = access(sessionId);
      return createExport({
        sessionId: session.id,
        revision: session.state.revision,
        metadata: session.metadata,
        variables: session.state.variables(),
      });
    },

    async importSession(sessionId, document) {
      begin("import");
      const id = checkSessionId(sessionId);
      return importParsed(id, parseExport(document));
    },

    async importVariables(sessionId, batch) {
      begin("import");
      const id = checkSessionId(sessionId);
      // The document's own fields get parseExport's checks and messages; its variables are
      // checked where they are, without being encoded for a document first.
      const { revision, metadata } = parseExport({
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        sessionId: id,
        revision: batch.revision,
        metadata: batch.metadata,
        variables: [],
      });
      const variables = parseExportedVariables(batch.variables);
      return importParsed(id, { sessionId: id, revision, metadata, variables });
    },

    async watch(sessionId, identifiers, listener, watchOptions = {}) {
      begin("watch");
      const session = access(sessionId);
      return openWatch(session, identifiers, listener, watchOptions, {
        maxWatchers,
        exclusively: (delivery) => exclusively(session, delivery),
        // The TTL slides from the end of the last watch that kept the session alive.
        onLastClosed: () => {
          if (sessions.get(session.id) === session) touch(session, now());
        },
      });
    },

    stats(): SessionStoreStats {
      let variables = 0;
      let watchers = 0;
      for (const session of sessions.values()) {
        variables += session.state.size;
        watchers += session.observers.size;
      }
      return {
        sessionsCreated,
        sessionsExpired,
        sessionsDeleted,
        sessionsCurrent: sessions.size,
        variables,
        watchers,
        valueBytes: budget.values,
        historyBytes: historyHeld,
        operations: new Map(operations),
      };
    },

    async sweep() {
      return sweep();
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      const error = new StateError("closed", "the session store was closed");
      for (const session of sessions.values()) {
        session.pending.length = 0;
        session.observers.endAll(error);
        session.state.clear();
        resetHistory(session, session.state.revision);
      }
      sessions.clear();
      ended.clear();
    },
  };
}
