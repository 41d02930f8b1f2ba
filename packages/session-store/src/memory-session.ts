import type { Metadata } from "@statebridge/state-provider";
import type { RevisionHistory } from "@statebridge/state-provider/change-feed";
import type { ChangeRecord } from "./change-record.js";
import type { ObserverRegistry } from "./observer-registry.js";
import type { SessionState } from "./session-state-types.js";
import type { SessionInfo } from "./types.js";

/** One live session of the in-memory store. */
export interface MemorySession {
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

/** Slides the session's TTL: it expires `ttlSeconds` after `at`. */
export function touch(session: MemorySession, at: number): void {
  session.lastAccessedAt = at;
  session.expiresAt = at + session.ttlSeconds * 1000;
}

/** What `getSession`, `heartbeat` and `listSessions` answer about a session. */
export function sessionInfo(session: MemorySession): SessionInfo {
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

/**
 * Hands a committed record to the session's observers, strictly in revision order: a record
 * committed by a listener during a delivery waits until that delivery is over.
 */
export function deliver(session: MemorySession, record: ChangeRecord): void {
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
export function exclusively(session: MemorySession, delivery: () => void): void {
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
