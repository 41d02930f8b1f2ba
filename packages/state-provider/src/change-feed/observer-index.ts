/** What the index needs of an observer: the variables it watches. */
export interface IndexedObserver {
  /**
   * Watched variable id → the identifier the watcher named it by. The index removes a
   * variable from it when the variable is deleted: nothing more can happen to it.
   */
  readonly targets: Map<string, string>;
}

/** How the index reads a change: the variable it concerns and whether it deleted it. */
export interface ChangeKey<C> {
  idOf(change: C): string;
  deletes(change: C): boolean;
}

/**
 * The observers of one session, indexed by variable id, so that a change reaches its
 * observers by a loop over one set, whatever the number of other observers.
 */
export interface ObserverIndex<O extends IndexedObserver, C> {
  /** Observers added and not removed, including those whose variables were all deleted. */
  readonly size: number;
  /** Adds an observer under each of its targets. Its `targets` map is the index's to edit. */
  add(observer: O): void;
  /** Removes an observer. @returns false if it was not there. */
  remove(observer: O): boolean;
  /**
   * Hands one revision's changes to every observer of a changed variable, as one batch per
   * observer (its changes in record order), observers in the order their first change comes.
   * A deleted variable is then dropped from its observers' targets and from the index.
   */
  dispatch<R extends { readonly changes: readonly C[] }>(
    record: R,
    deliver: (observer: O, changes: readonly C[], record: R) => void,
  ): void;
  /** The observers, in the order they were added. */
  values(): IterableIterator<O>;
  /** Empties the index. @returns the observers it held, in the order they were added. */
  clear(): O[];
}

/** Creates an empty index; `key` tells which variable a change concerns. */
export function createObserverIndex<O extends IndexedObserver, C>(key: ChangeKey<C>): ObserverIndex<O, C> {
  const observers = new Set<O>();
  const byVariable = new Map<string, Set<O>>();

  function forgetDeleted(id: string): void {
    const watchers = byVariable.get(id);
    if (watchers === undefined) return;
    for (const observer of watchers) observer.targets.delete(id);
    byVariable.delete(id);
  }

  return {
    get size() {
      return observers.size;
    },

    add(observer) {
      observers.add(observer);
      for (const id of observer.targets.keys()) {
        let watchers = byVariable.get(id);
        if (watchers === undefined) {
          watchers = new Set();
          byVariable.set(id, watchers);
        }
        watchers.add(observer);
      }
    },

    remove(observer) {
      if (!observers.delete(observer)) return false;
      for (const id of observer.targets.keys()) {
        const watchers = byVariable.get(id);
        if (watchers === undefined) continue;
        watchers.delete(observer);
        if (watchers.size === 0) byVariable.delete(id);
      }
      return true;
    },

    dispatch(record, deliver) {
      const changes = record.changes;
      if (changes.length === 1) {
        // One change: every observer of its variable gets the record's own list.
        const change = changes[0] as C;
        const id = key.idOf(change);
        const watchers = byVariable.get(id);
        if (watchers === undefined) return;
        for (const observer of watchers) deliver(observer, changes, record);
        if (key.deletes(change)) forgetDeleted(id);
        return;
      }
      let batches: Map<O, C[]> | undefined;
      for (const change of changes) {
        const watchers = byVariable.get(key.idOf(change));
        if (watchers === undefined) continue;
        batches ??= new Map();
        for (const observer of watchers) {
          const batch = batches.get(observer);
          if (batch === undefined) batches.set(observer, [change]);
          else batch.push(change);
        }
      }
      if (batches !== undefined) for (const [observer, batch] of batches) deliver(observer, batch, record);
      for (const change of changes) if (key.deletes(change)) forgetDeleted(key.idOf(change));
    },

    values() {
      return observers.values();
    },

    clear() {
      const held = [...observers];
      observers.clear();
      byVariable.clear();
      return held;
    },
  };
}
