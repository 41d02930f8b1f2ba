/** Anything recorded at one session revision. */
export interface Revisioned {
  readonly revision: number;
}

/** Options of {@link createRevisionHistory}. */
export interface RevisionHistoryOptions<R extends Revisioned> {
  /** Most records kept; 0 keeps none, so every resume below the latest revision resyncs. */
  readonly capacity: number;
  /** Most bytes kept (the sum of {@link RevisionHistoryOptions.bytesOf}). Default: no byte bound. */
  readonly maxBytes?: number;
  /** A record's size in bytes; it must not change while the record is kept. Default: 0. */
  readonly bytesOf?: (record: R) => number;
  /** The revision the history starts at. Default 0. */
  readonly base?: number;
}

/**
 * The recent records of one session, for watchers that resume. It covers the revisions
 * `(base, latest]`: every revision after `base` is either in it or was never recorded (it
 * changed nothing a watcher can see). Past its record count or its byte bound the oldest
 * records are dropped, and `base` moves up to the last dropped one's revision.
 */
export interface RevisionHistory<R extends Revisioned> {
  /** Records after this revision are all kept. */
  readonly base: number;
  /** Records kept. */
  readonly size: number;
  /** The bytes of the records kept. */
  readonly bytes: number;
  /**
   * Appends a record; its revision must be above every kept one. A record larger than the
   * byte bound by itself is not kept: the history then starts at its revision.
   */
  push(record: R): void;
  /** Drops the oldest record, moving `base` to its revision. @returns the bytes freed (0 if empty). */
  dropOldest(): number;
  /** The kept records with a revision above `revision`, oldest first. */
  after(revision: number): R[];
  /** Calls `visit` for every kept record with a revision above `revision`, oldest first. */
  forEachAfter(revision: number, visit: (record: R) => void): void;
  /** Forgets everything: the history now starts at `base` (after an import, or at close). */
  reset(base: number): void;
}

/** Creates an empty history: a ring that grows on demand up to `capacity` records. */
export function createRevisionHistory<R extends Revisioned>(
  options: RevisionHistoryOptions<R>,
): RevisionHistory<R> {
  const { capacity } = options;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const bytesOf = options.bytesOf;
  // A ring: `start` is the oldest record's slot, `count` the number of records.
  let slots = new Array<R | undefined>(Math.min(capacity, 64));
  let start = 0;
  let count = 0;
  let bytes = 0;
  let currentBase = options.base ?? 0;

  /** The slot of the `index`-th oldest record (a branch, not `%`: this is on every write's path). */
  function slotOf(index: number): number {
    const slot = start + index;
    return slot < slots.length ? slot : slot - slots.length;
  }

  function at(index: number): R {
    return slots[slotOf(index)] as R;
  }

  function grow(): void {
    const larger = new Array<R | undefined>(Math.min(capacity, slots.length * 2));
    for (let index = 0; index < count; index++) larger[index] = at(index);
    slots = larger;
    start = 0;
  }

  function dropOldest(): number {
    if (count === 0) return 0;
    const oldest = slots[start] as R;
    slots[start] = undefined;
    start = start + 1 === slots.length ? 0 : start + 1;
    count--;
    const freed = bytesOf === undefined ? 0 : bytesOf(oldest);
    bytes -= freed;
    currentBase = oldest.revision;
    return freed;
  }

  function reset(newBase: number): void {
    slots.fill(undefined);
    start = 0;
    count = 0;
    bytes = 0;
    currentBase = newBase;
  }

  /** The index of the first kept record above `revision`: records are in revision order. */
  function firstAfter(revision: number): number {
    let low = 0;
    let high = count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (at(middle).revision <= revision) low = middle + 1;
      else high = middle;
    }
    return low;
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
      const size = bytesOf === undefined ? 0 : bytesOf(record);
      if (capacity === 0 || size > maxBytes) {
        reset(record.revision);
        return;
      }
      if (count === capacity && count === slots.length) {
        // Full: the record takes the oldest one's slot, unless the byte bound needs more room.
        const oldest = slots[start] as R;
        const freed = bytesOf === undefined ? 0 : bytesOf(oldest);
        if (bytes - freed + size <= maxBytes) {
          slots[start] = record;
          start = start + 1 === slots.length ? 0 : start + 1;
          bytes += size - freed;
          currentBase = oldest.revision;
          return;
        }
      }
      while (count > 0 && (count === capacity || bytes + size > maxBytes)) dropOldest();
      if (count === slots.length) grow();
      slots[slotOf(count)] = record;
      count++;
      bytes += size;
    },
    dropOldest,
    after(revision) {
      const result: R[] = [];
      for (let index = firstAfter(revision); index < count; index++) result.push(at(index));
      return result;
    },
    forEachAfter(revision, visit) {
      for (let index = firstAfter(revision); index < count; index++) visit(at(index));
    },
    reset,
  };
}
