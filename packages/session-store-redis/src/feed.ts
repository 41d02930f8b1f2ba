import { createObserverRegistry, type WatchListener } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import type { Connection, Reply } from "./connection.js";
import { MAX_ARRIVED, MAX_ARRIVED_BYTES, type WatchedSession, type Watcher } from "./feed-session.js";
import type { SessionKeys } from "./keys.js";
import {
  type LogEntry,
  parseLogEntry,
  parsePublishedEntry,
  rawChanges,
  storedValuesOf,
  toChangeRecord,
} from "./log-entry.js";

/** Options of {@link createFeed}. */
export interface FeedOptions {
  /** The store's connection: keep-alives and reads of the log go through it. */
  readonly connection: Connection;
  /** The bytes of stored values, blobs fetched; `undefined` when one is gone. */
  readonly resolveValues: (keys: SessionKeys, stored: readonly Buffer[]) => Promise<Buffer[] | undefined>;
  /**
   * How often watched sessions are kept alive and checked; a session whose TTL is shorter is
   * kept alive every quarter of its TTL.
   */
  readonly intervalMs: number;
  readonly maxWatchersPerSession: number;
  readonly onListenerError: (error: unknown) => void;
  /**
   * Slides a watched session's TTL and checks it is still the same life (epoch).
   * @returns its revision, or the error that ends its watches (`session_expired`).
   */
  readonly keepAlive: (sessionId: string, epoch: string) => Promise<number | StateError>;
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

/**
 * The change feed of one server. Each write script publishes its log entry on the session's
 * shard channel; the feed subscribes, on a connection of its own, to the sessions watched here
 * and hands each entry to the session's watchers. The log is read (XRANGE) only where what was
 * published may be incomplete: after subscribing, when a watch resumes from an earlier
 * revision, when an entry names a previous one that never arrived, when a keep-alive finds the
 * session's revision past what was read. Losing that connection ends every watch with
 * `unavailable` (clients resume), as does an entry whose previous one was trimmed from the
 * log; an entry of another epoch or a deleted session's last one ends them with
 * `session_expired`. Watched sessions are kept alive every `intervalMs` (or a quarter of their
 * TTL), and one found gone ends its watches.
 */
export function createFeed(options: FeedOptions) {
  const { connection, intervalMs } = options;
  let reader = openReader();
  const sessions = new Map<string, WatchedSession>();
  let keepAliveTimer: NodeJS.Timeout | undefined;
  let closed = false;

  /** A connection for subscriptions; when it is lost every watch ends and a new one is made. */
  function openReader(): Connection {
    const opened = connection.duplicate();
    opened.onLost(() => {
      if (reader !== opened || closed) return;
      endAll(new StateError("unavailable", "the change feed lost its connection to Redis"));
      void opened.close();
      reader = openReader();
    });
    return opened;
  }

  function channelOf(session: WatchedSession): string {
    return `${session.keys.session.slice(0, -1)}c`;
  }

  function end(session: WatchedSession, watcher: Watcher, error: StateError): void {
    session.registry.remove(watcher.observer);
    session.watchers.delete(watcher.observer);
    // Its last watch ended: the session is no longer followed (nor kept alive) from here.
    if (session.watchers.size === 0) forget(session);
    try {
      watcher.listener.onEnd(error);
    } catch (listenerError) {
      options.onListenerError(listenerError);
    }
  }

  function forget(session: WatchedSession): void {
    if (sessions.get(session.sessionId) === session) sessions.delete(session.sessionId);
    if (session.subscribed) reader.unsubscribe(channelOf(session), session.onMessage);
    session.subscribed = false;
    session.arrived.length = 0;
    session.arrivedBytes = 0;
  }

  function endSession(session: WatchedSession, error: StateError): void {
    forget(session);
    session.watchers.clear();
    session.registry.endAll(error);
  }

  async function subscribe(session: WatchedSession): Promise<void> {
    try {
      await reader.subscribe(channelOf(session), session.onMessage);
    } catch (error) {
      if (sessions.get(session.sessionId) === session) endSession(session, asUnavailable(error));
      return;
    }
    if (sessions.get(session.sessionId) !== session) {
      reader.unsubscribe(channelOf(session), session.onMessage);
      return;
    }
    session.subscribed = true;
    void pump(session);
  }

  /**
   * Hands the session's entries on, one at a time and in order: the log from `position` when a
   * read is due, else what was published. Runs once per session at a time.
   */
  async function pump(session: WatchedSession): Promise<void> {
    if (session.pumping || !session.subscribed) return;
    session.pumping = true;
    try {
      while (sessions.get(session.sessionId) === session) {
        if (session.catchUp) {
          session.catchUp = false;
          const reply = (await connection.command([
            "XRANGE",
            session.keys.log,
            `${session.position + 1}-0`,
            "+",
            "COUNT",
            "512",
          ])) as readonly Reply[];
          for (const raw of reply ?? []) {
            if (sessions.get(session.sessionId) !== session || session.catchUp) break;
            if (!(await handle(session, parseLogEntry(raw)))) session.catchUp = true;
          }
          if ((reply ?? []).length === 512) session.catchUp = true;
          continue;
        }
        const entry = session.arrived.shift();
        if (entry === undefined) {
          session.arrivedBytes = 0;
          break;
        }
        if (entry.revision <= session.position) continue;
        // An entry whose previous one never arrived, or one that would end the watches (an
        // ending, another epoch) or is malformed: the log decides, not the channel.
        if (!isPlainNext(session, entry)) session.catchUp = true;
        else if (!(await handle(session, entry))) session.catchUp = true;
      }
    } catch (error) {
      if (sessions.get(session.sessionId) === session) endSession(session, asUnavailable(error));
    } finally {
      session.pumping = false;
    }
  }

  /**
   * Serves one log entry to the session's watchers. Values are fetched first (blobs may need a
   * round trip); if a watch was added meanwhile the entry is left for the next read, which
   * starts at it again, so that no watcher gets an entry out of order or misses one.
   * @returns false when the rest of the read must be left for the next one.
   */
  async function handle(session: WatchedSession, entry: LogEntry): Promise<boolean> {
    session.rewound = false;
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
        if (typeof result === "number") {
          // The session moved on since its log was last read: read it, in case a publication
          // was lost (it names its previous entry, so a lost one shows at the next; this also
          // covers the last).
          if (result > session.checked && result > session.position) {
            session.checked = result;
            session.catchUp = true;
            void pump(session);
          }
        } else if (result instanceof StateError && result.code === "session_expired") {
          endSession(session, result);
        }
      }),
    );
  }

  /** Keeps watched sessions alive while there are any, every shortest keep-alive interval. */
  function scheduleKeepAlive(): void {
    if (keepAliveTimer !== undefined || closed || sessions.size === 0) return;
    let next = intervalMs;
    for (const session of sessions.values()) next = Math.min(next, session.keepAliveMs);
    keepAliveTimer = setTimeout(() => {
      void keepAlive().finally(() => {
        keepAliveTimer = undefined;
        scheduleKeepAlive();
      });
    }, next);
    keepAliveTimer.unref();
  }

  function endAll(error: StateError): void {
    for (const session of [...sessions.values()]) endSession(session, error);
  }

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
        const created: WatchedSession = {
          sessionId,
          keys,
          epoch,
          registry: createObserverRegistry(options.onListenerError),
          watchers: new Map(),
          position,
          keepAliveMs: Math.max(10, Math.min(intervalMs, Math.floor(ttlMs / 4))),
          lastKeepAlive: Date.now(),
          rewound: false,
          checked: position,
          onMessage: (message) => {
            if (sessions.get(sessionId) !== created) return;
            created.arrivedBytes += message.length;
            if (created.arrived.length >= MAX_ARRIVED || created.arrivedBytes > MAX_ARRIVED_BYTES) {
              // Handing on falls behind what is published: what it holds is dropped, and the
              // log (which has it all) is read in its stead, a batch at a time.
              created.arrived.length = 0;
              created.arrivedBytes = 0;
              created.catchUp = true;
            } else {
              created.arrived.push(parsePublishedEntry(message));
            }
            void pump(created);
          },
          subscribed: false,
          arrived: [],
          arrivedBytes: 0,
          // What was written before the subscription took effect is only in the log.
          catchUp: true,
          pumping: false,
        };
        session = created;
        sessions.set(sessionId, session);
        void subscribe(session);
        scheduleKeepAlive();
      } else if (session.watchers.size >= options.maxWatchersPerSession) {
        throw new StateError(
          "resource_exhausted",
          `session ${JSON.stringify(sessionId)} has ${session.watchers.size} watchers on this server, the most allowed`,
        );
      }
      const observer = session.registry.add(targets, listener, position);
      const watcher: Watcher = { observer, listener, seen: position };
      session.watchers.set(observer, watcher);
      // The log is read again from the earliest revision a watch still needs; an entry being
      // handed on meanwhile is handed on again with this watch in it.
      if (position < session.position) session.position = position;
      session.rewound = true;
      session.catchUp = true;
      void pump(session);
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
            forget(owner);
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
      clearTimeout(keepAliveTimer);
      endAll(error);
      void reader.close();
    },
  };
}

/** The feed of one store. */
export type Feed = ReturnType<typeof createFeed>;

function asUnavailable(error: unknown): StateError {
  return error instanceof StateError && error.code === "unavailable"
    ? error
    : new StateError("unavailable", `the change feed failed: ${String(error)}`, { cause: error });
}

/** Whether a published entry is the next one of the watched life, as it can be handed on. */
function isPlainNext(session: WatchedSession, entry: LogEntry): boolean {
  return (
    Number.isSafeInteger(entry.revision) &&
    Number.isSafeInteger(entry.previous) &&
    entry.previous <= session.position &&
    entry.epoch === session.epoch &&
    entry.ending === undefined
  );
}
