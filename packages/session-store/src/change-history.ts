import type { ChangeRecord } from "./change-record.js";

/**
 * The recent change records of one session, for watchers that resume. It covers the
 * revisions `(base, latest]`: every change after `base` is either in it or changed nothing a
 * watcher can see. When full, the oldest record is dropped and `base` moves up to its revision.
 */
export interface ChangeHistory {
  /** Changes after this revision are all kept. */
  readonly base: number;
  /** Records kept. */
  readonly size: number;
  /** Appends a record; its revision must be above every kept one. */
  push(record: ChangeRecord): void;
  /** The kept records with a revision above `revision`, oldest first. */
  after(revision: number): ChangeRecord[];
  /** Forgets everything: the history now starts at `base`. */
  reset(base: number): void;
}

/**
 * Creates a bounded history.
 * @param capacity - most records kept; 0 keeps none, so every resume below the current
 *   revision resyncs.
 * @param base - the revision the history starts at.
 */
export function createChangeHistory(capacity: number, base: number): ChangeHistory {
  // A ring: `start` is the oldest record's slot, `count` the number of records.
  let slots: (ChangeRecord | undefined)[] = new Array<ChangeRecord | undefined>(Math.min(capacity, 64));
  let start = 0;
  let count = 0;
  let currentBase = base;

  function at(index: number): ChangeRecord {
    return slots[(start + index) % slots.length] as ChangeRecord;
  }

  function grow(): void {
    const larger = new Array<ChangeRecord | undefined>(Math.min(capacity, slots.length * 2));
    for (let index = 0; index < count; index++) larger[index] = at(index);
    slots = larger;
    start = 0;
  }

  return {
    get base() {
      return currentBase;
    },
    get size() {
      return count;
    },
    push(record) {
      if (capacity === 0) {
        currentBase = record.revision;
        return;
      }
      if (count === slots.length && slots.length < capacity) grow();
      if (count === capacity) {
        currentBase = at(0).revision;
        slots[start] = record;
        start = (start + 1) % slots.length;
        return;
      }
      slots[(start + count) % slots.length] = record;
      count++;
    },
    after(revision) {
      // Binary search for the first record above `revision`: records are in revision order.
      let low = 0;
      let high = count;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (at(middle).revision <= revision) low = middle + 1;
        else high = middle;
      }
      const result: ChangeRecord[] = [];
      for (let index = low; index < count; index++) result.push(at(index));
      return result;
    },
    reset(newBase) {
      slots.fill(undefined);
      start = 0;
      count = 0;
      currentBase = newBase;
    },
  };
}
