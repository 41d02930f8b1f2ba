import { randomBytes } from "node:crypto";
import {
  createExport,
  type Metadata,
  mergeMetadata,
  normalizeMetadata,
  type ParsedExport,
  parseExport,
  StateError,
  type Variable,
} from "@statebridge/state-provider";
import { createRevisionHistory } from "@statebridge/state-provider/change-feed";
import type { ChangeRecord } from "./change-record.js";
import { createEndedSessions, type Ending } from "./ended-sessions.js";
import { createHistoryLedger } from "./history-ledger.js";
import { parseImportBatch } from "./import-batch.js";
import { createMemoryBudget } from "./memory-budget.js";
import { deliver, exclusively, type MemorySession, sessionInfo, touch } from "./memory-session.js";
import { resolveMemoryStoreOptions } from "./memory-store-options.js";
import { openWatch } from "./memory-watch.js";
import { createObserverRegistry } from "./observer-registry.js";
import { checkSessionId } from "./session-id.js";
import { createSessionState } from "./session-state.js";
import { checkPageOptions, positive, sourceOf } from "./store-options.js";
import type {
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
  const settings = resolveMemoryStoreOptions(options);
  const { ttlSeconds, maxSessions, maxVariables, maxValueBytes, maxWatchers, now } = settings;
  const budget = createMemoryBudget(settings.maxMemoryBytes);
  const histories = createHistoryLedger(budget);
  const ended = createEndedSessions(settings.endedRemembered);

  const sessions = new Map<string, MemorySession>();
  const operations = new Map<string, number>();
  let sessionsCreated = 0;
  let sessionsExpired = 0;
  let sessionsDeleted = 0;
  let closed = false;

  const sweeper = setInterval(() => sweep(), settings.sweepIntervalMs);
  sweeper.unref();

  function begin(kind: string): void {
    if (closed) throw new StateError("closed", `the session store is closed; ${kind} is not possible`);
    operations.set(kind, (operations.get(kind) ?? 0) + 1);
  }

  /** A session with a watch open never expires: the watch keeps it alive. */
  function isExpired(session: MemorySession, at: number): boolean {
    if (session.observers.size > 0) {
      touch(session, at);
      return false;
    }
    return at >= session.expiresAt;
  }

  function endSession(session: MemorySession, ending: Ending): void {
    sessions.delete(session.id);
    ended.record(session.id, ending);
    if (ending === "expired") sessionsExpired++;
    else sessionsDeleted++;
    session.state.clear();
    histories.reset(session, session.state.revision);
    session.pending.length = 0;
    session.observers.endAll(ended.goneError(session.id));
  }

  /** The live session, its TTL slid. @throws `session_expired` if it is gone or overdue. */
  function access(sessionId: unknown): MemorySession {
    const id = checkSessionId(sessionId);
    const session = sessions.get(id);
    if (session === undefined) throw ended.goneError(id);
    const at = now();
    if (isExpired(session, at)) {
      endSession(session, "expired");
      throw ended.goneError(id);
    }
    touch(session, at);
    return session;
  }

  function newSession(id: string, metadata: Metadata, sessionTtl: number): MemorySession {
    if (sessions.size >= maxSessions) sweep();
    if (sessions.size >= maxSessions) {
      throw new StateError(
        "resource_exhausted",
        `the store holds ${sessions.size} sessions, the most allowed; cannot create session ${JSON.stringify(id)}`,
      );
    }
    const at = now();
    const session: MemorySession = {
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
        capacity: settings.historySize,
        maxBytes: settings.historyBytes,
        bytesOf: (record) => record.bytes,
      }),
      observers: createObserverRegistry(settings.onListenerError),
      delivering: false,
      pending: [],
    };
    return session;
  }

  function adopt(session: MemorySession): void {
    sessions.set(session.id, session);
    ended.forget(session.id);
    sessionsCreated++;
  }

  /** Records a committed change and hands it to observers, strictly in revision order. */
  function commit(session: MemorySession, record: ChangeRecord): void {
    histories.remember(session, record);
    deliver(session, record);
  }

  /** Imports validated variables into a session (created if absent or expired), all or nothing. */
  function importParsed(id: string, parsed: ParsedExport): { revision: number; imported: number } {
    const existing = sessions.get(id);
    let session: MemorySession;
    let created = false;
    if (existing !== undefined && !isExpired(existing, now())) {
      session = access(id);
    } else {
      if (existing !== undefined) endSession(existing, "expired");
      session = newSession(id, Object.freeze(Object.create(null)) as Metadata, ttlSeconds);
      created = true;
    }
    const result = session.state.import(parsed);
    if (result.adopted) histories.reset(session, result.revision);
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
    const page = ids.slice(0, limit).map((id) => sessionInfo(sessions.get(id) as MemorySession));
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
          return { session: sessionInfo(existing), created: false };
        }
        endSession(existing, "expired");
      }
      const session = newSession(id, metadata, sessionTtl);
      adopt(session);
      return { session: sessionInfo(session), created: true };
    },

    async getSession(sessionId) {
      begin("getSession");
      return sessionInfo(access(sessionId));
    },

    async heartbeat(sessionId) {
      begin("heartbeat");
      return sessionInfo(access(sessionId));
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
      return importParsed(id, parseImportBatch(id, batch));
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
        historyBytes: histories.held,
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
        histories.reset(session, session.state.revision);
      }
      sessions.clear();
      ended.clear();
    },
  };
}
