import type { Variable, VariableValue } from "@statebridge/state-provider";

/** The kind of one recorded change: a write (set or batch member) or a deletion. */
export type ChangeKind = "value_change" | "deleted";

/**
 * One variable's change within a revision. For a write, `variable` is the variable after it;
 * for a deletion, the variable as it was when deleted.
 */
export interface Change {
  readonly kind: ChangeKind;
  readonly variable: Variable;
  /** The value before the change. */
  readonly oldValue: VariableValue;
  /** Who made the change. */
  readonly source: string;
  /** Wall-clock epoch milliseconds of the change. */
  readonly timestamp: number;
}

/**
 * The changes one revision made. A registration or an import into a non-empty session takes a
 * revision too, with no changes a watcher can see (nobody can watch a variable before it exists).
 */
export interface RevisionRecord {
  readonly revision: number;
  readonly changes: readonly Change[];
}

/**
 * A bounded record of the last revisions of a session, so that a watch resumed from an older
 * revision gets exactly what it missed. It covers the revisions in `(base, latest]`: `base` is
 * the revision at creation or import, or that of the newest entry dropped to respect the bound.
 */
export interface ChangeHistory {
  /** Revisions at or below this one are no longer (or never were) recorded here. */
  readonly base: number;
  /** Records a revision; revisions must be appended in increasing order. */
  append(entry: RevisionRecord): void;
  /** Forgets everything and starts over at `base` (after an import into an empty session). */
  reset(base: number): void;
  /** Calls `visit` for every recorded revision above `revision`, oldest first. */
  forEachAfter(revision: number, visit: (entry: RevisionRecord) => void): void;
  /** How many revisions are recorded. */
  readonly size: number;
}

/**
 * Creates a history that keeps at most `capacity` revisions in a ring buffer. With a capacity
 * of 0 nothing is kept, and every resume from an older revision ends in a resync.
 */
export function createChangeHistory(capacity: number, base = 0): ChangeHistory {
  const entries = new Array<RevisionRecord | undefined>(capacity);
  let start = 0;
  let count = 0;
  let baseRevision = base;

  return {
    get base() {
      return baseRevision;
    },
    get size() {
      return count;
    },
    append(entry) {
      if (capacity === 0) {
        baseRevision = entry.revision;
        return;
      }
      if (count === capacity) {
        baseRevision = (entries[start] as RevisionRecord).revision;
        entries[start] = entry;
        start = (start + 1) % capacity;
        return;
      }
      entries[(start + count) % capacity] = entry;
      count++;
    },
    reset(newBase) {
      entries.fill(undefined);
      start = 0;
      count = 0;
      baseRevision = newBase;
    },
    forEachAfter(revision, visit) {
      // Find the first entry above `revision` by binary search: entries are in revision order.
      let low = 0;
      let high = count;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((entries[(start + middle) % capacity] as RevisionRecord).revision <= revision) low = middle + 1;
        else high = middle;
      }
      for (let index = low; index < count; index++)
        visit(entries[(start + index) % capacity] as RevisionRecord);
    },
  };
}
