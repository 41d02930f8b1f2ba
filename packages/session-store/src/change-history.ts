import type { ChangeRecord } from "./change-record.js";

/**
 * The recent change records of one session, for watchers that resume. It covers the
 * revisions `(base, latest]`: every change after `base` is either in it or changed nothing a
 * watcher can see. Past its record count or its byte bound, the oldest records are dropped and
 * `base` moves up to the last dropped one's revision.
 */
export interface ChangeHistory {
  /** Changes after this revision are all kept. */
  readonly base: number;
  /** Records kept. */
  readonly size: number;
  /** The bytes of the records kept (each record's {@link ChangeRecord.bytes}). */
  readonly bytes: number;
  /**
   * Appends a record; its revision must be above every kept one. A record larger than the
   * byte bound by itself is not kept: the history then starts at its revision.
   */
  push(record: ChangeRecord): void;
  /** Drops the oldest record, moving `base` to its revision. @returns the bytes freed (0 if empty). */
  dropOldest(): number;
  /** The kept records with a revision above `revision`, oldest first. */
  after(revision: number): ChangeRecord[];
  /** Forgets everything: the history now starts at `base`. */
  reset(base: number): void;
}

/**
 * Creates a bounded history.
 * @param capacity - most records kept; 0 keeps none, so every resume below the current
 *   revision resyncs.
 * @param maxBytes - most bytes kept (the sum of the records' `bytes`).
 * @param base - the revision the history starts at.
 */
export function createChangeHistory(capacity: number, maxBytes: number, base: number): ChangeHistory {
  // A ring: `start` is the oldest record's slot, `count` the number of records.
  let slots: (ChangeRecord | undefined)[] = new Array<ChangeRecord | undefined>(Math.min(capacity, 64));
  let start = 0;
  let count = 0;
  let bytes = 0;
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

  function dropOldest(): number {
    if (count === 0) return 0;
    const oldest = at(0);
    slots[start] = undefined;
    start = (start + 1) % slots.length;
    count--;
    bytes -= oldest.bytes;
    currentBase = oldest.revision;
    return oldest.bytes;
  }

  function reset(newBase: number): void {
    slots.fill(undefined);
    start = 0;
    count = 0;
    bytes = 0;
    currentBase = newBase;
  }

  return {
    get base() {
      return currentBase;
    },
    get size() {
      return count;
    },
    get bytes() {
      return bytes;
    },
    push(record) {
      if (capacity === 0 || record.bytes > maxBytes) {
        reset(record.revision);
        return;
      }
      while (count > 0 && (count === capacity || bytes + record.bytes > maxBytes)) dropOldest();
      if (count === slots.length) grow();
      slots[(start + count) % slots.length] = record;
      count++;
      bytes += record.bytes;
    },
    dropOldest,
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
    reset,
  };
}
