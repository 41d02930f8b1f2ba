import { StateError } from "@statebridge/state-provider";

/**
 * The keys of one session. They share the hash tag `{<prefix>:<escaped id>}`, so Redis Cluster
 * puts them in one slot and every script touches one slot only. The order is the order
 * scripts receive them in as `KEYS`.
 */
export interface SessionKeys {
  /** Hash: epoch, rev, created, accessed, ttl, meta, count, hbytes, base, last. */
  readonly session: string;
  /** Hash: variable name → id. */
  readonly names: string;
  /** Hash: `<id>:h` header, `<id>:m` metadata, `<id>:e` version, `<id>:t`, `<id>:s`, `<id>:d` value. */
  readonly variables: string;
  /** Sorted set: variable ids scored by the revision that registered them (creation order). */
  readonly order: string;
  /** Stream: the change log; entry ids are `<revision>-0`. */
  readonly log: string;
  /** List: `<revision>:<bytes>` of each entry the history counts, oldest first. */
  readonly history: string;
  /** String: why the session ended (`expired`, `deleted`); outlives the session by a grace time. */
  readonly ending: string;
  /** Hash: large values (64 KiB and more), by a random field their stored reference names. */
  readonly blobs: string;
  /** All of them, in script order. */
  readonly all: readonly string[];
}

/**
 * Escapes a session id for a key: `%`, `{` and `}` become `%25`, `%7B` and `%7D`. The mapping is
 * one-to-one, so no two ids share keys, and no id can open or close the hash tag.
 */
export function escapeSessionId(sessionId: string): string {
  return sessionId.replace(/[%{}]/g, (character) =>
    character === "%" ? "%25" : character === "{" ? "%7B" : "%7D",
  );
}

/**
 * Checks a key prefix: non-empty, at most 128 characters, without `{`, `}` or a control
 * character (it is part of every hash tag). @throws `invalid_value` otherwise.
 */
export function checkKeyPrefix(prefix: unknown): string {
  if (
    typeof prefix !== "string" ||
    prefix.length === 0 ||
    prefix.length > 128 ||
    [...prefix].some((character) => character === "{" || character === "}" || character < " ")
  ) {
    throw new StateError(
      "invalid_value",
      `keyPrefix must be 1 to 128 characters without braces or control characters, got ${JSON.stringify(String(prefix).slice(0, 140))}`,
    );
  }
  return prefix;
}

/** The keys of session `sessionId` under `prefix`. */
export function sessionKeys(prefix: string, sessionId: string): SessionKeys {
  const tag = `{${prefix}:${escapeSessionId(sessionId)}}`;
  const keys = {
    session: `${tag}:s`,
    names: `${tag}:n`,
    variables: `${tag}:v`,
    order: `${tag}:o`,
    log: `${tag}:l`,
    history: `${tag}:h`,
    ending: `${tag}:e`,
    blobs: `${tag}:b`,
  };
  return {
    ...keys,
    all: [
      keys.session,
      keys.names,
      keys.variables,
      keys.order,
      keys.log,
      keys.history,
      keys.ending,
      keys.blobs,
    ],
  };
}

/**
 * The index of live sessions: a sorted set of session ids, all scored 0 so that it is in id
 * order for paging. It lives outside every session's slot, so it is updated apart from the
 * session scripts and cleaned lazily (see the README on how exact `maxSessions` is).
 */
export function sessionIndexKey(prefix: string): string {
  return `${prefix}:sessions`;
}
