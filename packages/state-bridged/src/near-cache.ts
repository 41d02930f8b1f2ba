import {
  isStateError,
  type Metadata,
  StateError,
  type Variable,
  type WatchEvent,
  type WatchHandle,
} from "@statebridge/state-provider";
import type { StreamWatchOptions, WatchStatus } from "@statebridge/stream-consumer";
import type { BridgedWatches } from "./watch.js";

/** Options of the near cache of a BridgedState (`cache: { … }`). */
export interface NearCacheOptions {
  /**
   * The most variables kept; past it the least recently read one is dropped (and its watch
   * closed). Default 10,000. Each cached variable holds one watch on the server.
   */
  readonly maxEntries?: number;
}

/** The defaults of {@link NearCacheOptions}. */
export const NEAR_CACHE_DEFAULTS = Object.freeze({ maxEntries: 10_000 });

/**
 * The variables a BridgedState has read, kept current by one watch each on one multiplexed
 * stream, so that a read of a cached variable never leaves the process.
 *
 * An entry is served only while its watch is known to be current (its initial value arrived
 * and its stream has not broken since) and it holds at least the version of the provider's own
 * last write to it. Every value seen (a server read, a watch event) moves an entry forward
 * only, by version of the same variable id, so reads are monotonic whatever order they arrive
 * in. A resync, a reconnect, a cut-off or an ended watch drops the entry before anything else
 * can read it; a `session_expired` drops everything.
 */
export interface NearCache {
  /** The cached variable, if it may be served now; touches it for the LRU order. */
  lookup(identifier: string): Variable | undefined;
  /** Takes in a variable read from the server, and starts following it if it is new. */
  observe(variable: Variable): void;
  /** The provider wrote `identifier`, which now has `version`: never serve anything older. */
  wrote(identifier: string, version: number): void;
  /** Drops what is cached under `identifier` (a name or an id) and closes its watch. */
  forget(identifier: string): void;
  /** Drops everything. */
  clear(): void;
  /** Drops everything and closes the watches, once. */
  close(): Promise<void>;
  /** Variables held. */
  readonly size: number;
}

/** What the cache needs of its provider. */
export interface NearCacheContext {
  /** The watches the cache opens (a consumer of its own: they are not the user's watches). */
  readonly watches: BridgedWatches;
  /** Told an error that ended a watch (so that `session_expired` ends the provider's session). */
  readonly onWatchError: (error: StateError) => void;
  readonly options?: NearCacheOptions;
}

interface Entry {
  variable: Variable;
  /** The identifiers it is cached under: its id and its name. */
  readonly keys: string[];
  /** The watch delivered its initial value and has not been interrupted since. */
  live: boolean;
  /** The version of the provider's own last write: nothing older may be served. */
  floor: number;
  handle: WatchHandle | undefined;
  dropped: boolean;
}

/** Creates a {@link NearCache}. */
export function createNearCache(context: NearCacheContext): NearCache {
  const maxEntries = context.options?.maxEntries ?? NEAR_CACHE_DEFAULTS.maxEntries;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new StateError(
      "invalid_value",
      `cache.maxEntries must be a positive integer, got ${String(maxEntries)}`,
    );
  }
  // Entries by id, least recently read first; and every identifier an entry is cached under.
  const byId = new Map<string, Entry>();
  const byKey = new Map<string, Entry>();
  let mostRecent: Entry | undefined;
  let closed = false;

  function drop(entry: Entry): void {
    if (entry.dropped) return;
    entry.dropped = true;
    entry.live = false;
    if (byId.get(entry.variable.id) === entry) byId.delete(entry.variable.id);
    for (const key of entry.keys) if (byKey.get(key) === entry) byKey.delete(key);
    if (mostRecent === entry) mostRecent = undefined;
    const handle = entry.handle;
    entry.handle = undefined;
    if (handle !== undefined) void handle.close();
  }

  function clear(): void {
    for (const entry of [...byId.values()]) drop(entry);
    byKey.clear();
  }

  /** Moves `entry` forward to `variable` if it is the same variable at a later version. */
  function advance(entry: Entry, variable: Variable): void {
    if (variable.id === entry.variable.id && variable.version > entry.variable.version) {
      entry.variable = variable;
    }
  }

  function applyEvent(entry: Entry, event: WatchEvent): void {
    if (entry.dropped || event.id !== entry.variable.id) return;
    switch (event.type) {
      case "initial":
      case "value_change":
        if (event.newValue !== undefined && event.version > entry.variable.version) {
          entry.variable = Object.freeze({
            ...entry.variable,
            value: event.newValue,
            version: event.version,
            metadata: freezeMetadata(event.metadata),
            updatedAt: event.timestamp,
            source: event.source,
          });
        }
        // The initial value proves the watch current: from now on it hears every change.
        if (event.type === "initial") entry.live = true;
        return;
      default:
        // A deletion ends the variable; a resync means changes were missed.
        drop(entry);
    }
  }

  function follow(entry: Entry): void {
    const options: StreamWatchOptions = {
      includeInitial: true,
      onStatus: (status: WatchStatus) => {
        // Interrupted: what the entry holds may be stale until the stream resumes, so it goes.
        if (status.kind !== "connected") drop(entry);
      },
    };
    context.watches
      .watch([entry.variable.id], (event) => applyEvent(entry, event), options)
      .then(
        (handle) => {
          if (entry.dropped) {
            void handle.close();
            return;
          }
          entry.handle = handle;
          void handle.done.then((error) => {
            drop(entry);
            if (error !== undefined) ended(error);
          });
        },
        (error: unknown) => {
          drop(entry);
          if (isStateError(error)) ended(error);
        },
      );
  }

  function ended(error: StateError): void {
    if (isStateError(error, "session_expired")) clear();
    context.onWatchError(error);
  }

  function evict(): void {
    while (byId.size > maxEntries) {
      const oldest = byId.values().next().value as Entry;
      drop(oldest);
    }
  }

  return {
    lookup(identifier) {
      const entry = byKey.get(identifier);
      if (entry === undefined || !entry.live || entry.variable.version < entry.floor) return undefined;
      if (entry !== mostRecent) {
        // Least recently read first: a read moves its entry to the end.
        const id = entry.variable.id;
        byId.delete(id);
        byId.set(id, entry);
        mostRecent = entry;
      }
      return entry.variable;
    },

    observe(variable) {
      if (closed) return;
      const existing = byId.get(variable.id);
      if (existing !== undefined) {
        advance(existing, variable);
        return;
      }
      // A name cached for another id is a variable deleted and registered again: the old one goes.
      const stale = byKey.get(variable.name);
      if (stale !== undefined) drop(stale);
      const entry: Entry = {
        variable: Object.freeze({ ...variable, metadata: freezeMetadata(variable.metadata) }),
        keys: [variable.id, variable.name],
        live: false,
        floor: 0,
        handle: undefined,
        dropped: false,
      };
      byId.set(variable.id, entry);
      byKey.set(variable.id, entry);
      byKey.set(variable.name, entry);
      follow(entry);
      evict();
    },

    wrote(identifier, version) {
      const entry = byKey.get(identifier);
      if (entry !== undefined && version > entry.floor) entry.floor = version;
    },

    forget(identifier) {
      const entry = byKey.get(identifier);
      if (entry !== undefined) drop(entry);
    },

    clear,

    async close() {
      if (closed) return;
      closed = true;
      clear();
      await context.watches.close();
    },

    get size() {
      return byId.size;
    },
  };
}

/** Metadata shared by every read of an entry, frozen so that no caller can change it for the others. */
function freezeMetadata(metadata: Metadata): Metadata {
  return deepFreeze(structuredClone(metadata));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
