import { checkPageOptions, type SessionInfo, type SessionPage } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import type { StoreContext } from "./context.js";
import { sessionIndexKey } from "./keys.js";
import { text } from "./replies.js";

/**
 * The index of sessions (`<prefix>:sessions`, a sorted set of ids all scored 0, so in id
 * order): what `listSessions` pages through and `maxSessions` counts. It lives outside every
 * session's slot, so it is not updated atomically with sessions: a session is added after it
 * is created, and one that expired leaves the index lazily (when a listing meets it, on the
 * sweep, and when the quota is reached). Creations racing on several servers can overshoot
 * `maxSessions` by the number in flight.
 */
export function createSessionIndex(context: StoreContext) {
  const { connection, limits } = context;
  const key = sessionIndexKey(context.prefix);
  const counters = { created: 0, expired: 0, current: 0 };

  async function page(start: string, count: number): Promise<string[]> {
    const reply = (await connection.command([
      "ZRANGE",
      key,
      start,
      "+",
      "BYLEX",
      "LIMIT",
      "0",
      String(count),
    ])) as readonly Buffer[] | null;
    return (reply ?? []).map((id) => text(id));
  }

  /** Removes vanished sessions from the index. @returns how many. */
  async function sweep(): Promise<number> {
    let removed = 0;
    let start = "-";
    for (;;) {
      const ids = await page(start, 500);
      if (ids.length === 0) break;
      const exists = await Promise.all(
        ids.map((id) => connection.command(["EXISTS", context.keys(id).session]) as Promise<number>),
      );
      const gone = ids.filter((_, index) => exists[index] === 0);
      if (gone.length > 0) removed += Number(await connection.command(["ZREM", key, ...gone]));
      start = `(${ids[ids.length - 1] as string}`;
      if (ids.length < 500) break;
    }
    counters.expired += removed;
    counters.current = Number(await connection.command(["ZCARD", key]));
    return removed;
  }

  return {
    counters,
    sweep,

    /** @throws `resource_exhausted` when the index holds `maxSessions` live sessions. */
    async checkQuota(sessionId: string): Promise<void> {
      counters.current = Number(await connection.command(["ZCARD", key]));
      if (counters.current < limits.maxSessions) return;
      await sweep();
      if (counters.current >= limits.maxSessions) {
        throw new StateError(
          "resource_exhausted",
          `the store holds ${counters.current} sessions, the most allowed; cannot create session ${JSON.stringify(sessionId)}`,
        );
      }
    },

    /** Adds a session just created. */
    async add(sessionId: string): Promise<void> {
      await connection.command(["ZADD", key, "0", sessionId]);
      counters.created++;
    },

    async remove(sessionId: string): Promise<void> {
      await connection.command(["ZREM", key, sessionId]);
    },

    /** A page of live sessions in id order; vanished ones met on the way leave the index. */
    async list(options: unknown): Promise<SessionPage> {
      const { limit, after, prefix } = checkPageOptions(options);
      let start = after !== undefined && after >= prefix ? `(${after}` : prefix !== "" ? `[${prefix}` : "-";
      const sessions: SessionInfo[] = [];
      for (;;) {
        const fetched = await page(start, limit + 1);
        const ids = fetched.filter((id) => id.startsWith(prefix));
        const found = await Promise.all(
          ids.map((id) =>
            context.read(id, "peek").then(
              (reply) => reply.info,
              (error: unknown) => {
                if (error instanceof StateError && error.code === "session_expired") return undefined;
                throw error;
              },
            ),
          ),
        );
        const vanished = ids.filter((_, index) => found[index] === undefined);
        if (vanished.length > 0) await connection.command(["ZREM", key, ...vanished]);
        for (const info of found) {
          if (info === undefined) continue;
          if (sessions.length === limit)
            return { sessions, next: (sessions[limit - 1] as SessionInfo).sessionId };
          sessions.push(info);
        }
        if (fetched.length <= limit || ids.length < fetched.length) return { sessions };
        start = `(${ids[ids.length - 1] as string}`;
      }
    },
  };
}
