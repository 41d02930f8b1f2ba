import type { SessionInfo } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import { decodeMetadata, parseStored, type StoredVariable } from "./codec.js";
import type { Reply } from "./connection.js";

/** A reply element as text ('' for a null). */
export function text(reply: Reply | undefined): string {
  if (reply === null || reply === undefined) return "";
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  return String(reply);
}

/** A session as a script describes it, with what the store needs beyond {@link SessionInfo}. */
export interface SessionReply {
  readonly info: SessionInfo;
  readonly epoch: string;
  /** The oldest revision a watch can resume from (history base). */
  readonly base: number;
  /** The variables asked for, `undefined` where not found; all of them in mode 'all'. */
  readonly variables: readonly (StoredVariable | undefined)[];
}

/**
 * Parses `[status, epoch, rev, created, accessed, ttl, meta, count, base, …variables]`, each
 * variable as seven elements (id, header, metadata, version, updatedAt, source, stored value).
 * A value in place comes untagged; a blob reference leaves `value` empty and names its `blob`.
 * `info` is built when first asked for: a get needs only the variables.
 */
export function parseSessionReply(sessionId: string, reply: readonly Reply[]): SessionReply {
  const variables: (StoredVariable | undefined)[] = [];
  for (let index = 9; index + 6 < reply.length; index += 7) {
    const id = text(reply[index]);
    if (id === "") {
      variables.push(undefined);
      continue;
    }
    const raw = reply[index + 6];
    const stored = Buffer.isBuffer(raw) ? raw : Buffer.from(text(raw));
    const place = parseStored(stored);
    const variable: StoredVariable = {
      id,
      header: text(reply[index + 1]),
      metadata: text(reply[index + 2]),
      version: text(reply[index + 3]),
      updatedAt: text(reply[index + 4]),
      source: text(reply[index + 5]),
      value: "bytes" in place ? place.bytes : EMPTY,
    };
    variables.push("blob" in place ? { ...variable, blob: place.blob } : variable);
  }
  let info: SessionInfo | undefined;
  return {
    epoch: text(reply[1]),
    base: Number(text(reply[8])),
    variables,
    get info() {
      if (info === undefined) {
        const ttlMs = Number(text(reply[5]));
        const accessed = Number(text(reply[4]));
        info = {
          sessionId,
          incarnation: text(reply[1]),
          revision: Number(text(reply[2])),
          createdAt: Number(text(reply[3])),
          lastAccessedAt: accessed,
          expiresAt: accessed + ttlMs,
          ttlSeconds: ttlMs / 1000,
          variableCount: Number(text(reply[7])),
          metadata: decodeMetadata(text(reply[6])),
        };
      }
      return info;
    },
  };
}

const EMPTY = Buffer.alloc(0);

/** `session_expired` for a session that is not there, saying why when Redis still knows. */
export function goneError(sessionId: string, ending: string): StateError {
  const quoted = JSON.stringify(sessionId);
  if (ending === "expired") {
    return new StateError("session_expired", `session ${quoted} has expired (no activity within its TTL)`);
  }
  if (ending === "deleted") return new StateError("session_expired", `session ${quoted} was deleted`);
  return new StateError("session_expired", `session ${quoted} does not exist or has expired`);
}

/** `session_expired` for a session that was recreated under its id since the caller saw it. */
export function recreatedError(sessionId: string): StateError {
  return new StateError(
    "session_expired",
    `session ${JSON.stringify(sessionId)} was recreated (another epoch): the session it followed ended`,
  );
}
