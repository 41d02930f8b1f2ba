import { randomBytes } from "node:crypto";
import {
  checkSessionId,
  nonNegativeInteger,
  parseImportBatch,
  positive,
  positiveInteger,
  resolveStoreLimits,
  type SessionInfo,
  type SessionStore,
  type SessionStoreStats,
  sourceOf,
} from "@statebridge/session-store";
import {
  assertExpectedVersion,
  compileGlob,
  createExport,
  normalizeMetadata,
  parseExport,
  StateError,
  type Variable,
} from "@statebridge/state-provider";
import { decodeVariable, encodeMetadata } from "./codec.js";
import { createConnection } from "./connection.js";
import { checkIdentifier, createStoreContext, notFoundError } from "./context.js";
import { createFeed } from "./feed.js";
import { checkKeyPrefix } from "./keys.js";
import { goneError, parseSessionReply, text } from "./replies.js";
import { DELETE_SESSION, INITIALIZE } from "./scripts.js";
import { createSessionIndex } from "./session-index.js";
import type { RedisSessionStoreOptions } from "./types.js";
import { deleteVariable, importParsed, registerVariable } from "./variable-ops.js";
import { createValueWriter, metadataUpdateOf } from "./variable-writes.js";
import { startWatch } from "./watch.js";

/**
 * Creates a {@link SessionStore} on Redis 7 (or Valkey): sessions shared by every store with
 * the same `url` and `keyPrefix`, kept across restarts as far as Redis keeps its data. Every
 * write is one script call on the session's slot; watchers read the session's change log (a
 * stream whose entry ids are revisions). Resolves once connected, or after `connectTimeoutMs`
 * with a store that answers `unavailable` until Redis can be reached (it keeps reconnecting).
 * @throws `invalid_value` for a malformed option.
 */
export async function createRedisSessionStore(options: RedisSessionStoreOptions = {}): Promise<SessionStore> {
  const prefix = checkKeyPrefix(options.keyPrefix ?? "statebridge");
  const ttlMs = positive(options.ttlSeconds, 3600, "ttlSeconds") * 1000;
  const limits = {
    ttlMs,
    ...resolveStoreLimits(options),
    endedRememberedMs: timer(
      positiveInteger(options.endedRememberedMs, 3_600_000, "endedRememberedMs"),
      "endedRememberedMs",
    ),
  };
  const sweepIntervalMs = timer(
    positive(options.sweepIntervalMs, 30_000, "sweepIntervalMs"),
    "sweepIntervalMs",
  );
  const commandTimeoutMs = timer(
    positiveInteger(options.commandTimeoutMs, 2000, "commandTimeoutMs"),
    "commandTimeoutMs",
  );
  const connectTimeoutMs = timer(
    nonNegativeInteger(options.connectTimeoutMs, 5000, "connectTimeoutMs"),
    "connectTimeoutMs",
  );
  const watchIntervalMs = timer(
    positiveInteger(
      options.watchIntervalMs,
      Math.max(10, Math.min(1000, Math.floor(ttlMs / 4))),
      "watchIntervalMs",
    ),
    "watchIntervalMs",
  );
  const url = options.url ?? "redis://127.0.0.1:6379";
  if (!/^rediss?:\/\//.test(url)) {
    throw new StateError(
      "invalid_value",
      `url must start with redis:// or rediss://, got ${JSON.stringify(url.slice(0, 64))}`,
    );
  }
  const onListenerError = options.onListenerError ?? (() => {});
  const connection = createConnection({ url, commandTimeoutMs });
  const context = createStoreContext(prefix, connection, limits);
  const writer = createValueWriter(context);
  const operations = new Map<string, number>();
  const description: { kind: string; persistence: boolean; distribution: boolean } = {
    kind: "redis",
    persistence: true,
    distribution: true,
  };
  const index = createSessionIndex(context);
  let sessionsDeleted = 0;
  let closed = false;

  const feed = createFeed({
    connection,
    resolveValues: (keys, stored) => context.resolve(keys, stored),
    intervalMs: watchIntervalMs,
    connectTimeoutMs,
    maxWatchersPerSession: limits.maxWatchers,
    onListenerError,
    async keepAlive(sessionId, epoch) {
      try {
        return (await context.read(sessionId, "none", [], epoch)).info.revision;
      } catch (error) {
        if (error instanceof StateError) return error;
        throw error;
      }
    },
  });
  // Persistence is what this Redis is configured for: AOF or RDB snapshots.
  async function probePersistence(): Promise<void> {
    try {
      const [appendonly, save] = await Promise.all(
        ["appendonly", "save"].map((name) => connection.command(["CONFIG", "GET", name], 1000)),
      );
      description.persistence = configValue(appendonly) === "yes" || configValue(save) !== "";
    } catch {
      // CONFIG may be disabled (managed Redis): assume it persists, as such services do.
    }
  }
  connection.onReady(() => void probePersistence());
  const sweeper = setInterval(() => void index.sweep().catch(() => 0), sweepIntervalMs);
  sweeper.unref();
  if (await connection.waitReady(connectTimeoutMs)) await probePersistence();

  function begin(kind: string): void {
    if (closed) throw new StateError("closed", `the session store is closed; ${kind} is not possible`);
    operations.set(kind, (operations.get(kind) ?? 0) + 1);
  }

  async function initialize(
    sessionId: string,
    metadata: string,
    sessionTtlMs: number,
  ): Promise<{ session: SessionInfo; created: boolean }> {
    const keys = context.keys(sessionId);
    const epoch = randomBytes(8).toString("hex");
    const args = [epoch, String(sessionTtlMs), metadata];
    let reply = await context.run(INITIALIZE, keys, [...args, "0"]);
    if (text(reply[0]) === "absent") {
      await index.checkQuota(sessionId);
      reply = await context.run(INITIALIZE, keys, [...args, "1"]);
    }
    const created = text(reply[0]) === "created";
    if (created) {
      await index.add(sessionId);
      writer.forget(sessionId);
    }
    return { session: parseSessionReply(sessionId, reply).info, created };
  }

  const store: SessionStore = {
    description,
    available: () => !closed && connection.available(),

    async initializeSession(sessionId, initializeOptions = {}) {
      begin("initializeSession");
      const id = checkSessionId(sessionId);
      const ttl = positive(initializeOptions.ttlSeconds, ttlMs / 1000, "ttlSeconds");
      const metadata = normalizeMetadata(initializeOptions.metadata, "session metadata");
      return initialize(id, encodeMetadata(metadata), Math.max(1, Math.round(ttl * 1000)));
    },

    async getSession(sessionId) {
      begin("getSession");
      return (await context.read(checkSessionId(sessionId), "none")).info;
    },

    async heartbeat(sessionId) {
      begin("heartbeat");
      return (await context.read(checkSessionId(sessionId), "touch")).info;
    },

    async deleteSession(sessionId) {
      begin("deleteSession");
      const id = checkSessionId(sessionId);
      const reply = await context.run(DELETE_SESSION, context.keys(id), []);
      await index.remove(id);
      writer.forget(id);
      if (text(reply[0]) !== "deleted") return false;
      sessionsDeleted++;
      feed.endSession(id, goneError(id, "deleted"));
      return true;
    },

    async listSessions(listOptions) {
      begin("listSessions");
      return index.list(listOptions);
    },

    async register(sessionId, name, type, initial, registerOptions = {}) {
      begin("register");
      const id = checkSessionId(sessionId);
      return registerVariable(context, id, name, type, initial, {
        constraints: registerOptions.constraints,
        metadata: registerOptions.metadata,
        description: registerOptions.description,
        source: sourceOf(registerOptions.source),
      });
    },

    async getVariable(sessionId, identifier) {
      begin("get");
      const id = checkSessionId(sessionId);
      const checked = checkIdentifier(identifier);
      const reply = await context.read(
        id,
        checked === undefined ? "none" : "ids",
        checked === undefined ? [] : [checked],
      );
      const stored = reply.variables[0];
      if (stored === undefined) throw notFoundError(id, identifier);
      return decodeVariable(stored);
    },

    async getVariables(sessionId, identifiers) {
      begin("getMany");
      const id = checkSessionId(sessionId);
      const wanted = [...identifiers].filter((identifier) => checkIdentifier(identifier) !== undefined);
      const reply = await context.read(id, wanted.length > 0 ? "ids" : "none", wanted);
      const found = new Map<string, Variable>();
      wanted.forEach((identifier, index) => {
        const stored = reply.variables[index];
        if (stored !== undefined) found.set(identifier, decodeVariable(stored));
      });
      return found;
    },

    async set(sessionId, identifier, value, setOptions = {}) {
      begin("set");
      const id = checkSessionId(sessionId);
      const expected =
        setOptions.expectedVersion === undefined
          ? undefined
          : assertExpectedVersion(setOptions.expectedVersion);
      const metadata = metadataUpdateOf(setOptions.metadata);
      return writer.set(id, identifier, value, metadata, expected, sourceOf(setOptions.source));
    },

    async updateMany(sessionId, updates, batchOptions = {}) {
      begin("updateMany");
      const id = checkSessionId(sessionId);
      const metadata = metadataUpdateOf(batchOptions.metadata);
      return writer.updateMany(
        id,
        updates,
        metadata,
        batchOptions.atomic === true,
        sourceOf(batchOptions.source),
      );
    },

    async list(sessionId, pattern) {
      begin("list");
      const id = checkSessionId(sessionId);
      const matches = pattern === undefined ? undefined : compileGlob(pattern);
      const reply = await context.read(id, "all");
      const variables = [];
      for (const stored of reply.variables) {
        if (stored === undefined) continue;
        const variable = decodeVariable(stored);
        if (matches === undefined || matches(variable.name)) variables.push(variable);
      }
      return variables;
    },

    async delete(sessionId, identifier, deleteOptions = {}) {
      begin("delete");
      const id = checkSessionId(sessionId);
      writer.forget(id);
      return deleteVariable(context, id, identifier, sourceOf(deleteOptions.source));
    },

    async exportSession(sessionId) {
      begin("export");
      const id = checkSessionId(sessionId);
      const reply = await context.read(id, "all");
      return createExport({
        sessionId: id,
        revision: reply.info.revision,
        metadata: reply.info.metadata,
        variables: reply.variables.flatMap((stored) =>
          stored === undefined ? [] : [decodeVariable(stored)],
        ),
      });
    },

    async importSession(sessionId, document) {
      begin("import");
      const id = checkSessionId(sessionId);
      return importParsed(context, id, parseExport(document), index.checkQuota, index.add);
    },

    async importVariables(sessionId, batch) {
      begin("import");
      const id = checkSessionId(sessionId);
      return importParsed(context, id, parseImportBatch(id, batch), index.checkQuota, index.add);
    },

    async watch(sessionId, identifiers, listener, watchOptions = {}) {
      begin("watch");
      const id = checkSessionId(sessionId);
      return startWatch(context, feed, id, identifiers, listener, watchOptions, () => {
        // The TTL slides from the end of the last watch on this server.
        void context.read(id, "none").catch(() => {});
      });
    },

    stats(): SessionStoreStats {
      return {
        sessionsCreated: index.counters.created,
        sessionsExpired: index.counters.expired,
        sessionsDeleted,
        sessionsCurrent: index.counters.current,
        variables: 0,
        watchers: feed.watcherCount(),
        valueBytes: 0,
        historyBytes: 0,
        operations: new Map(operations),
      };
    },

    async sweep() {
      return closed ? 0 : index.sweep();
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      feed.close(new StateError("closed", "the session store was closed"));
      await connection.close();
    },
  };

  return store;
}

/** The value of a one-parameter CONFIG GET reply: node-redis gives `[name, value]` or `{ name: value }`. */
function configValue(reply: unknown): string {
  if (Array.isArray(reply)) return text(reply[1] as Buffer | undefined);
  if (typeof reply === "object" && reply !== null) return text(Object.values(reply)[0] as Buffer | undefined);
  return "";
}

/** Node fires a timer above 2^31 - 1 ms at once: such a duration is refused. */
function timer(milliseconds: number, name: string): number {
  if (milliseconds > 2_147_483_647) {
    throw new StateError("invalid_value", `${name} must be at most 2147483647 ms, got ${milliseconds}`);
  }
  return milliseconds;
}
