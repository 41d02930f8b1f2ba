import { createHash } from "node:crypto";
import { StateError } from "@statebridge/state-provider";
import { createClient, ErrorReply, RESP_TYPES } from "redis";

/** A reply as this package reads them: bulk strings as Buffers, integers, nulls and arrays. */
export type Reply = Buffer | number | null | string | readonly Reply[];

/** One connection to Redis, as the store uses it. */
export interface Connection {
  /** Sends one command; bulk strings come back as Buffers. @throws `unavailable` StateError. */
  command(args: readonly (string | Buffer)[], timeoutMs?: number): Promise<Reply>;
  /**
   * Runs a script by EVALSHA, loading it with SCRIPT LOAD when the server answers NOSCRIPT
   * (after a restart or a SCRIPT FLUSH). @throws `unavailable` StateError.
   */
  script(source: string, keys: readonly string[], args: readonly (string | Buffer)[]): Promise<Reply[]>;
  /** True while connected, ready, and answering within the deadline. */
  available(): boolean;
  /** Called whenever the connection becomes ready (after the first connect and every reconnect). */
  onReady(listener: () => void): void;
  /** A second connection to the same server, with the same options (for blocking reads). */
  duplicate(): Connection;
  /** Waits until ready or `timeoutMs` passed; never throws. */
  waitReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of {@link createConnection}. */
export interface ConnectionOptions {
  readonly url: string;
  /** Per-command deadline. */
  readonly commandTimeoutMs: number;
}

/** Bulk strings as Buffers, and no deadline of node-redis's own (the connection keeps them). */
const COMMAND_OPTIONS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout: 0 } as const;

/** A command sent and not yet answered. */
interface PendingCommand {
  /** When it fails, on `performance.now()`'s clock. */
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly reject: (error: StateError) => void;
}

/**
 * Connects with node-redis, set to fail fast: no offline queue (a call while disconnected
 * fails at once), a deadline on every command and on connecting, and reconnection with
 * exponential backoff from 50 ms to 2 s, forever.
 */
export function createConnection(options: ConnectionOptions): Connection {
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
    },
  });
  const readyListeners: (() => void)[] = [];
  let closed = false;
  /** Set when a command missed its deadline, cleared by the next answer: a hung server. */
  let hung = false;
  // node-redis emits 'error' for every failed connection attempt; it reconnects by itself.
  client.on("error", () => {});
  client.on("ready", () => {
    for (const listener of readyListeners) listener();
  });
  client.connect().catch(() => {});
  const hashes = new Map<string, string>();

  /**
   * Commands awaiting an answer, each with its deadline. One timer per connection watches them
   * all (armed for the earliest deadline, re-armed when it fires): a timer, an AbortController
   * and a Promise.race per command cost about as much CPU as the command itself. A command that
   * missed its deadline may still be written and run later, as one already written may: its
   * caller is told `unavailable`, which never says that nothing happened.
   */
  const pending = new Set<PendingCommand>();
  let watchdog: NodeJS.Timeout | undefined;

  function arm(deadline: number): void {
    watchdog = setTimeout(expire, Math.max(0, Math.ceil(deadline - performance.now())));
    watchdog.unref();
  }

  function expire(): void {
    watchdog = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of pending) {
      if (entry.deadline > now) {
        next = Math.min(next, entry.deadline);
        continue;
      }
      pending.delete(entry);
      hung = true;
      entry.reject(
        new StateError(
          "unavailable",
          `Redis at ${redactUrl(options.url)} did not answer within ${entry.timeoutMs} ms`,
        ),
      );
    }
    if (next !== Number.POSITIVE_INFINITY) arm(next);
  }

  function command(args: readonly (string | Buffer)[], timeoutMs = options.commandTimeoutMs) {
    if (closed) return Promise.reject(new StateError("closed", "the Redis session store is closed"));
    if (!client.isReady) {
      return Promise.reject(
        new StateError("unavailable", `Redis at ${redactUrl(options.url)} is not connected`),
      );
    }
    return new Promise<Reply>((resolve, reject) => {
      const entry: PendingCommand = { deadline: performance.now() + timeoutMs, timeoutMs, reject };
      pending.add(entry);
      if (watchdog === undefined) arm(entry.deadline);
      // node-redis's own deadline is off (`timeout: 0`; its default is 5 s): it arms an
      // AbortSignal.timeout per command that nothing clears.
      client.sendCommand(args as (string | Buffer)[], COMMAND_OPTIONS).then(
        (reply) => {
          if (!pending.delete(entry)) return;
          hung = false;
          resolve(reply as unknown as Reply);
        },
        (error: unknown) => {
          if (pending.delete(entry)) reject(toStateError(error, options.url));
        },
      );
    });
  }

  return {
    command,
    async script(source, keys, args) {
      let sha = hashes.get(source);
      if (sha === undefined) {
        sha = createHash("sha1").update(source).digest("hex");
        hashes.set(source, sha);
      }
      const call = ["EVALSHA", sha, String(keys.length), ...keys, ...args];
      try {
        return (await command(call)) as Reply[];
      } catch (error) {
        if (!(error instanceof StateError) || !String(error.cause).includes("NOSCRIPT")) throw error;
        await command(["SCRIPT", "LOAD", source]);
        return (await command(call)) as Reply[];
      }
    },
    available: () => !closed && client.isReady && !hung,
    onReady(listener) {
      readyListeners.push(listener);
    },
    duplicate() {
      return createConnection(options);
    },
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!client.isReady && !closed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return client.isReady;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(watchdog);
      client.destroy();
    },
  };
}

/** A failure of a command as a StateError: a Redis error reply, or `unavailable`. */
function toStateError(error: unknown, url: string): StateError {
  if (error instanceof StateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ErrorReply && message.startsWith("OOM")) {
    return new StateError("resource_exhausted", `Redis is out of memory: ${message}`, { cause: error });
  }
  // A reply error other than these (NOSCRIPT, a script bug) is still the backend failing the call.
  return new StateError("unavailable", `Redis at ${redactUrl(url)} failed the call: ${message}`, {
    cause: error,
  });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
