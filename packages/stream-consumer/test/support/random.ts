/** A seeded source of randomness, so that a failing randomized run can be replayed. */
export interface Random {
  readonly seed: number;
  /** A number in [0, 1). */
  next(): number;
  /** An integer in [minimum, maximum]. */
  integer(minimum: number, maximum: number): number;
  /** True with probability `probability`. */
  chance(probability: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T;
  /** `count` distinct elements of a list, in random order. */
  sample<T>(list: readonly T[], count: number): T[];
}

/** Creates a {@link Random} (mulberry32) from a 32-bit seed. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
  const integer = (minimum: number, maximum: number) =>
    minimum + Math.floor(next() * (maximum - minimum + 1));
  return {
    seed,
    next,
    integer,
    chance: (probability) => next() < probability,
    pick: (list) => list[integer(0, list.length - 1)] as (typeof list)[number],
    sample(list, count) {
      const copy = [...list];
      for (let index = copy.length - 1; index > 0; index--) {
        const other = integer(0, index);
        [copy[index], copy[other]] = [
          copy[other] as (typeof copy)[number],
          copy[index] as (typeof copy)[number],
        ];
      }
      return copy.slice(0, count);
    },
  };
}

/** The seed of a run: `STATEBRIDGE_SEED` if set, else `fallback` (or a random one if none). */
export function seedOf(fallback?: number): number {
  const fromEnvironment = process.env.STATEBRIDGE_SEED;
  if (fromEnvironment !== undefined && fromEnvironment !== "") {
    const seed = Number(fromEnvironment);
    if (!Number.isSafeInteger(seed))
      throw new Error(`STATEBRIDGE_SEED must be an integer, got ${fromEnvironment}`);
    return seed >>> 0;
  }
  return fallback ?? Math.floor(Math.random() * 2 ** 32);
}
