import type { VariableType } from "@statebridge/state-provider";

/**
 * Remembers the type of variables this provider has seen, by name and by id, so that `set()`
 * and `updateMany()` can put a value in its type's own wire field without asking the server
 * first. Bounded: the oldest entries are forgotten first.
 *
 * The cache may be stale (another process may delete a variable and register a new one of
 * another type under the same name); callers handle that by falling back to the field the
 * value's JavaScript kind suggests, which the server accepts for every type that kind fits.
 */
export interface TypeCache {
  /** The cached type of an identifier, if any. */
  get(identifier: string): VariableType | undefined;
  /** Records a variable's type under its name and id. */
  remember(variable: { readonly id: string; readonly name: string; readonly type: VariableType }): void;
  /** Forgets an identifier, and the other identifier of the same variable. */
  forget(identifier: string): void;
  /** Forgets everything. */
  clear(): void;
  /** Entries held (names and ids each count). */
  readonly size: number;
}

interface Entry {
  readonly id: string;
  readonly name: string;
  readonly type: VariableType;
}

/** Creates a {@link TypeCache} holding at most `capacity` identifiers. */
export function createTypeCache(capacity = 10_000): TypeCache {
  const entries = new Map<string, Entry>();
  // One iterator kept across evictions: every key it has passed was evicted, so its next key
  // is the oldest. A fresh `keys()` per eviction would skip every deleted slot from the start
  // of the map's table each time, which made filling the cache quadratic.
  let oldestKeys: Iterator<string> | undefined;

  function put(key: string, entry: Entry): void {
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > capacity) {
      oldestKeys ??= entries.keys();
      const oldest = oldestKeys.next();
      if (oldest.done === true) {
        oldestKeys = undefined;
        continue;
      }
      entries.delete(oldest.value);
    }
  }

  return {
    get(identifier) {
      return entries.get(identifier)?.type;
    },
    remember(variable) {
      const known = entries.get(variable.name);
      if (known !== undefined && known.id === variable.id && known.type === variable.type) {
        if (entries.get(variable.id) === known) return;
      }
      const entry: Entry = { id: variable.id, name: variable.name, type: variable.type };
      put(variable.name, entry);
      put(variable.id, entry);
    },
    forget(identifier) {
      const entry = entries.get(identifier);
      entries.delete(identifier);
      if (entry === undefined) return;
      // Only drop the other key if it still points at the same variable.
      for (const key of [entry.id, entry.name]) {
        if (entries.get(key) === entry) entries.delete(key);
      }
    },
    clear() {
      entries.clear();
      oldestKeys = undefined;
    },
    get size() {
      return entries.size;
    },
  };
}
