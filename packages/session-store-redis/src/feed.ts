import {
  createObserverRegistry,
  type Observer,
  type ObserverRegistry,
  type WatchListener,
} from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import type { Connection, Reply } from "./connection.js";
import type { SessionKeys } from "./keys.js";
import { type LogEntry, parseLogEntry, rawChanges, storedValuesOf, toChangeRecord } from "./log-entry.js";

/** Options of {@link createFeed}. */
export interface FeedOptions {
  /** The store's connection: keep-alives and wake-ups go through it. */
  readonly connection: Connection;
  /** The bytes of stored values, blobs fetched; `undefined` when one is gone. */
  readonly resolveValues: (keys: SessionKeys, stored: readonly Buffer[]) => Promise<Buffer[] | undefined>;
  /**
   * The longest one XREAD blocks, and how often watched sessions are kept alive and checked;
   * a session whose TTL is shorter is kept alive every quarter of its TTL.
   */
  readonly intervalMs: number;
  readonly maxWatchersPerSession: number;
  readonly onListenerError: (error: unknown) => void;
  /**
   * Slides a watched session's TTL and checks it is still the same life (epoch).
   * @returns its revision, or the error that ends its watches (`session_expired`).
   */
  readonly keepAlive: (sessionId: string, epoch: string) => Promise<number | StateError>;
  /** How long the feed's own connection may take to connect (or reconnect) before a read. */
  readonly connectTimeoutMs: number;
}

/** A watch in the feed. */
export interface FeedWatch {
  /**
   * The revision up to which the log has been served to this watch (entries that hold nothing
   * for it included): never ahead of an entry it will still be handed.
   */
  currentRevision(): number;
  close(): void;
}

interface Watcher {
  readonly observer: Observer;
  readonly listener: WatchListener;
  /** The last log revision this watcher was served or skipped past. */
  seen: number;
}

interface WatchedSession {
  readonly sessionId: string;
  readonly keys: SessionKeys;
  readonly epoch: string;
  readonly registry: ObserverRegistry;
  readonly watchers: Map<Observer, Watcher>;
  /** The stream id the next XREAD starts after. */
  position: number;
  /** How often this session's TTL is slid while it is watched here. */
  readonly keepAliveMs: number;
  lastKeepAlive: number;
  /** Set when a watch was added: what the XREAD in flight brings is read again. */
  rewound: boolean;
  revision: number;
}

/**
 * The change feed of one server: one dedicated connection reads the logs of every session
 * watched here with one blocking XREAD, and each entry is handed to that session's watchers
 * (many watchers of a session share the read). A reader that sees an entry whose previous
 * entry it never read (the log was trimmed past it) ends that watch with `unavailable`, so the
 * client resumes and is resynced; an entry of another epoch or a deleted session's last
 * entry ends the watches with `session_expired`. While a session is watched here its TTL is
 * slid every `intervalMs` (or a quarter of its TTL), and a session found gone ends its watches.
 */
export function createFeed(options: FeedOptions) {
  const { connection, intervalMs } = options;
  const reader = connection.duplicate();
  const sessions = new Map<string, WatchedSession>();
  let readerId: string | undefined;
  let changes = 0;
  /** The `changes` count the XREAD in flight was built at, or undefined when none is. */
  let blockedAt: number | undefined;
  let idle: (() => void) | undefined;
  let closed = false;
  reader.onReady(() => {
    readerId = undefined;
  });

  function end(session: WatchedSession, watcher: Watcher, error: StateError): void {
    session.registry.remove(watcher.observer);
    session.watchers.delete(watcher.observer);
    // Its last watch ended: the session is no longer read (nor kept alive) from here.
    if (session.watchers.size === 0 && sessions.get(session.sessionId) === session) {
      sessions.delete(session.sessionId);
    }
    try {
      watcher.listener.onEnd(error);
    } catch (listenerError) {
      options.onListenerError(listenerError);
    }
  }

  function endSession(session: WatchedSession, error: StateError): void {
    if (sessions.get(session.sessionId) === session) sessions.delete(session.sessionId);
    session.watchers.clear();
    session.registry.endAll(error);
  }

  /** Makes the loop rebuild its XREAD: wakes it when idle, unblocks the XREAD in flight. */
  function kick(): void {
    changes++;
    if (idle !== undefined) {
      const wake = idle;
      idle = undefined;
      wake();
      return;
    }
    void (async () => {
      for (let attempt = 0; attempt < 50 && !closed; attempt++) {
        if (blockedAt === undefined || blockedAt >= changes) return;
        if (readerId !== undefined) {
          await connection.command(["CLIENT", "UNBLOCK", readerId]).catch(() => {});
        }
        await new Promise((resolve) => setTimeout(resolve, 2 + attempt));
      }
    })();
  }

  /**
   * Serves one log entry to the session's watchers. Values are fetched first (blobs may need a
   * round trip); if a watch was added meanwhile the entry is left for the next read, which
   * starts at it again, so that no watcher gets an entry out of order or misses one.
   * @returns false when the rest of the read must be left for the next one.
   */
  async function handle(session: WatchedSession, entry: LogEntry): Promise<boolean> {
    if (entry.epoch !== session.epoch || entry.ending !== undefined) {
      const quoted = JSON.stringify(session.sessionId);
      endSession(
        session,
        new StateError(
          "session_expired",
          entry.ending === "deleted"
            ? `session ${quoted} was deleted`
            : `session ${quoted} was recreated: the session watched ended`,
        ),
      );
      return false;
    }
    const wanted = new Set<string>();
    for (const watcher of session.watchers.values()) {
      if (entry.revision > watcher.seen) for (const id of watcher.observer.targets.keys()) wanted.add(id);
    }
    const changes = wanted.size === 0 ? [] : rawChanges(entry).filter((change) => wanted.has(change.id));
    const values =
      changes.length === 0 ? [] : await options.resolveValues(session.keys, storedValuesOf(changes));
    if (sessions.get(session.sessionId) !== session || session.rewound) return false;
    session.position = Math.max(session.position, entry.revision);
    session.revision = Math.max(session.revision, entry.revision);
    for (const watcher of [...session.watchers.values()]) {
      if (entry.revision <= watcher.seen) continue;
      if (entry.previous > watcher.seen || values === undefined) {
        // The log was trimmed past what this watch had read (an entry, or a blob of this one).
        end(session, watcher, behind(session, values === undefined ? entry.revision : entry.previous));
        continue;
      }
      watcher.seen = entry.revision;
    }
    if (changes.length > 0 && values !== undefined) {
      session.registry.dispatch(toChangeRecord(entry, changes, values));
    }
    return true;
  }

  function behind(session: WatchedSession, revision: number): StateError {
    return new StateError(
      "unavailable",
      `the watch of session ${JSON.stringify(session.sessionId)} fell behind its change log ` +
        `(revision ${revision} was dropped before it was read); resume to resync`,
    );
  }

  async function keepAlive(): Promise<void> {
    const now = Date.now();
    const due = [...sessions.values()].filter(
      (session) => now - session.lastKeepAlive >= session.keepAliveMs,
    );
    await Promise.all(
      due.map(async (session) => {
        session.lastKeepAlive = now;
        const result = await options
          .keepAlive(session.sessionId, session.epoch)
          .catch((error: unknown) => error);
        if (sessions.get(session.sessionId) !== session) return;
        if (typeof result === "number") session.revision = Math.max(session.revision, result);
        else if (result instanceof StateError && result.code === "session_expired")
          endSession(session, result);
      }),
    );
  }

  function endAll(error: StateError): void {
    for (const session of [...sessions.values()]) endSession(session, error);
  }

  async function run(): Promise<void> {
    while (!closed) {
      if (sessions.size === 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
        });
        continue;
      }
      try {
        // The reader is a connection of its own: a store's first watches can come before it has
        // connected (and a reconnect before it is back). Wait for it, within the connect timeout,
        // rather than end every watch with unavailable at once.
        if (!(await reader.waitReady(options.connectTimeoutMs))) {
          throw new StateError("unavailable", "the change feed's connection to Redis is not connected");
        }
        if (readerId === undefined) readerId = String(await reader.command(["CLIENT", "ID"]));
        // Every watch may have closed meanwhile: an XREAD of no stream would block for ever
        // (Redis refuses its BLOCK Infinity and the feed would end every watch).
        if (sessions.size === 0) continue;
        const watched = [...sessions.values()];
        const block = Math.min(...watched.map((session) => session.keepAliveMs));
        const args = ["XREAD", "COUNT", "512", "BLOCK", String(block), "STREAMS"];
        for (const session of watched) args.push(session.keys.log);
        for (const session of watched) {
          args.push(`${session.position}-0`);
          session.rewound = false;
        }
        blockedAt = changes;
        const reply = await reader.command(args, block + 5000).finally(() => {
          blockedAt = undefined;
        });
        for (const [name, entries] of streamsOf(reply)) {
          const session = watched.find((candidate) => candidate.keys.log === name);
          if (session === undefined || session.rewound) continue;
          for (const raw of entries) {
            if (sessions.get(session.sessionId) !== session || session.rewound) break;
            if (!(await handle(session, parseLogEntry(raw)))) break;
          }
        }
        await keepAlive();
      } catch (error) {
        if (closed) return;
        endAll(
          error instanceof StateError && error.code === "unavailable"
            ? error
            : new StateError("unavailable", `the change feed failed: ${String(error)}`, { cause: error }),
        );
      }
    }
  }
  void run();

  return {
    /** Watches in this server of a session. */
    watchers(sessionId: string): number {
      return sessions.get(sessionId)?.watchers.size ?? 0;
    },

    /**
     * Adds a watch that is served every log entry after `position`.
     * @throws `resource_exhausted` when the session has `maxWatchersPerSession` here.
     */
    add(
      sessionId: string,
      keys: SessionKeys,
      epoch: string,
      targets: ReadonlyMap<string, string>,
      listener: WatchListener,
      position: number,
      ttlMs: number,
      onClose: () => void,
    ): FeedWatch {
      let session = sessions.get(sessionId);
      if (session !== undefined && session.epoch !== epoch) {
        endSession(
          session,
          new StateError("session_expired", `session ${JSON.stringify(sessionId)} was recreated`),
        );
        session = undefined;
      }
      if (session === undefined) {
        session = {
          sessionId,
          keys,
          epoch,
          registry: createObserverRegistry(options.onListenerError),
          watchers: new Map(),
          position,
          keepAliveMs: Math.max(10, Math.min(intervalMs, Math.floor(ttlMs / 4))),
          lastKeepAlive: Date.now(),
          rewound: false,
          revision: position,
        };
        sessions.set(sessionId, session);
      } else if (session.watchers.size >= options.maxWatchersPerSession) {
        throw new StateError(
          "resource_exhausted",
          `session ${JSON.stringify(sessionId)} has ${session.watchers.size} watchers on this server, the most allowed`,
        );
      }
      const observer = session.registry.add(targets, listener, position);
      const watcher: Watcher = { observer, listener, seen: position };
      session.watchers.set(observer, watcher);
      if (position < session.position) session.position = position;
      // What the read in flight brings is served again by the next read, with this watch in it.
      session.rewound = true;
      kick();
      const owner = session;
      let open = true;
      return {
        currentRevision: () => watcher.seen,
        close() {
          if (!open) return;
          open = false;
          if (!owner.watchers.delete(observer)) return;
          owner.registry.remove(observer);
          if (owner.watchers.size === 0 && sessions.get(sessionId) === owner) {
            sessions.delete(sessionId);
            onClose();
          }
        },
      };
    },

    /** Watches on this server, in all sessions. */
    watcherCount(): number {
      let count = 0;
      for (const session of sessions.values()) count += session.watchers.size;
      return count;
    },

    /** Ends the watches of a session (deleted through this server) at once. */
    endSession(sessionId: string, error: StateError): void {
      const session = sessions.get(sessionId);
      if (session !== undefined) endSession(session, error);
    },

    /** Ends every watch with `error` (the store's connection was lost). */
    endAll,

    close(error: StateError): void {
      closed = true;
      endAll(error);
      idle?.();
      void reader.close();
    },
  };
}

/** The feed of one store. */
export type Feed = ReturnType<typeof createFeed>;

/** XREAD's reply as [stream key, entries] pairs: node-redis gives an array or a key → entries object. */
function streamsOf(reply: Reply | Record<string, readonly Reply[]>): [string, readonly Reply[]][] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    return (reply as readonly [Buffer, readonly Reply[]][]).map(([key, entries]) => [String(key), entries]);
  }
  return Object.entries(reply as Record<string, readonly Reply[]>);
}
