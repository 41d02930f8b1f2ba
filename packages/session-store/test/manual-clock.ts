/** A clock that tests move by hand, for the in-memory store's `now` option. */
export function manualClock(start = 1_700_000_000_000): {
  now: () => number;
  advance(milliseconds: number): void;
} {
  let time = start;
  return {
    now: () => time,
    advance(milliseconds) {
      time += milliseconds;
    },
  };
}
