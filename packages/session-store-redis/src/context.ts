import { randomBytes } from "node:crypto";
import type { StoreLimitSettings } from "@statebridge/session-store";
import { assertIdentifierLength, describe, StateError } from "@statebridge/state-provider";
import {
  BLOB_THRESHOLD_BYTES,
  blobReference,
  inlineStored,
  parseStored,
  type StoredVariable,
} from "./codec.js";
import type { Connection, Reply } from "./connection.js";
import { type SessionKeys, sessionKeys } from "./keys.js";
import { goneError, parseSessionReply, recreatedError, type SessionReply, text } from "./replies.js";
import { READ } from "./scripts.js";

/** The checked limits of a store: the in-memory store's, with times in ms. */
export interface StoreLimits extends StoreLimitSettings {
  readonly ttlMs: number;
  /** How long an ended session's reason (expired, deleted) is remembered, in ms. */
  readonly endedRememberedMs: number;
}

/** What the store's operations share: the connection, keys, limits and script calls. */
export interface StoreContext {
  readonly prefix: string;
  readonly connection: Connection;
  readonly limits: StoreLimits;
  keys(sessionId: string): SessionKeys;
  /**
   * Runs a session script with the time, the grace time and the expected epoch ('' for any)
   * before `args`. @throws `unavailable` when Redis cannot be reached.
   */
  run(
    script: string,
    keys: SessionKeys,
    args: readonly (string | Buffer)[],
    epoch?: string,
  ): Promise<readonly Reply[]>;
  /**
   * Reads a session (and, by mode, variables): 'none', 'ids', 'all' (each renewing the TTL once
   * it has run down by its slack), 'touch' (always sliding it), 'peek' (never).
   * @throws `session_expired` when it is gone, or is of another epoch than `epoch`.
   */
  read(
    sessionId: string,
    mode: "none" | "touch" | "peek" | "ids" | "all",
    identifiers?: readonly string[],
    epoch?: string,
  ): Promise<SessionReply>;
  /**
   * Makes an encoded value ready for a script: in place when small, else written first to a
   * new field of the session's blobs hash (one plain HSET), which `blobs` collects so that a
   * write that fails can {@link StoreContext.discard} them.
   */
  place(keys: SessionKeys, encoded: Buffer, blobs: string[]): Promise<Buffer | string>;
  /** Drops blobs written for a write that did not happen. */
  discard(keys: SessionKeys, blobs: readonly string[]): Promise<void>;
  /**
   * The bytes of stored values (tagged, as scripts keep them), fetching blobs in one HMGET.
   * @returns `undefined` when a blob is gone (it was replaced and its history dropped since).
   */
  resolve(keys: SessionKeys, stored: readonly Buffer[]): Promise<Buffer[] | undefined>;
}

/** Creates the shared part of a store. */
export function createStoreContext(
  prefix: string,
  connection: Connection,
  limits: StoreLimits,
): StoreContext {
  // Every call needs a session's eight key names: kept for the sessions in use, at most 1,024
  // sessions of ids up to 256 characters (about 2 MiB at most; longer ids are not kept).
  const keyCache = new Map<string, SessionKeys>();
  const keysOf = (sessionId: string) => {
    let keys = keyCache.get(sessionId);
    if (keys === undefined) {
      keys = sessionKeys(prefix, sessionId);
      if (sessionId.length <= 256) {
        if (keyCache.size >= 1024) keyCache.clear();
        keyCache.set(sessionId, keys);
      }
    }
    return keys;
  };
  const context: StoreContext = {
    prefix,
    connection,
    limits,
    keys: keysOf,
    run(script, keys, args, epoch = "") {
      return connection.script(script, keys.all, [
        String(Date.now()),
        String(limits.endedRememberedMs),
        epoch,
        ...args,
      ]);
    },
    async read(sessionId, mode, identifiers = [], epoch = "") {
      const keys = keysOf(sessionId);
      // A blob can be dropped between the read and its fetch (replaced, its history trimmed):
      // the variable was written meanwhile, so reading again gives the newer value.
      for (let attempt = 0; attempt < 5; attempt++) {
        const reply = await context.run(READ, keys, [mode, ...identifiers], epoch);
        const status = text(reply[0]);
        if (status === "gone") throw goneError(sessionId, text(reply[1]));
        if (status === "epoch") throw recreatedError(sessionId);
        const parsed = parseSessionReply(sessionId, reply);
        const fields: string[] = [];
        for (const variable of parsed.variables) if (variable?.blob !== undefined) fields.push(variable.blob);
        if (fields.length === 0) return parsed;
        const fetched = (await connection.command(["HMGET", keys.blobs, ...fields])) as readonly Reply[];
        if (fetched.some((value) => !Buffer.isBuffer(value))) continue;
        let next = 0;
        const variables = parsed.variables.map((variable): StoredVariable | undefined => {
          if (variable?.blob === undefined) return variable;
          const { blob: _fetched, ...rest } = variable;
          return { ...rest, value: fetched[next++] as Buffer };
        });
        return {
          epoch: parsed.epoch,
          base: parsed.base,
          variables,
          get info() {
            return parsed.info;
          },
        };
      }
      throw new StateError(
        "unavailable",
        `session ${JSON.stringify(sessionId)} kept changing under a read; retry`,
      );
    },
    async place(keys, encoded, blobs) {
      if (encoded.length < BLOB_THRESHOLD_BYTES) return inlineStored(encoded);
      const field = randomBytes(12).toString("hex");
      await connection.command(["HSET", keys.blobs, field, encoded]);
      // Expires with the session once a write slides it; until then, if no write does.
      await connection.command(["PEXPIRE", keys.blobs, String(limits.ttlMs), "NX"]);
      blobs.push(field);
      return blobReference(encoded.length, field);
    },
    async discard(keys, blobs) {
      if (blobs.length > 0) await connection.command(["HDEL", keys.blobs, ...blobs]).catch(() => {});
    },
    async resolve(keys, stored) {
      const parsed = stored.map(parseStored);
      const fields = parsed.flatMap((each) => ("blob" in each ? [each.blob] : []));
      const fetched =
        fields.length === 0
          ? []
          : ((await connection.command(["HMGET", keys.blobs, ...fields])) as readonly Reply[]);
      if (fetched.some((value) => !Buffer.isBuffer(value))) return undefined;
      let next = 0;
      return parsed.map((each) => ("blob" in each ? (fetched[next++] as Buffer) : each.bytes));
    },
  };
  return context;
}

/** Checks an identifier's length (a malformed request), as the in-memory store does. */
export function checkIdentifier(identifier: unknown): string | undefined {
  if (typeof identifier !== "string") return undefined;
  assertIdentifierLength(identifier, "a variable identifier");
  return identifier;
}

/** `not_found` for a variable, in the in-memory store's words. */
export function notFoundError(sessionId: string, identifier: unknown): StateError {
  const shown = typeof identifier === "string" ? JSON.stringify(identifier) : describe(identifier);
  return new StateError("not_found", `variable ${shown} not found in session ${JSON.stringify(sessionId)}`);
}
