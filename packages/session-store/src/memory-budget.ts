import { StateError } from "@statebridge/state-provider";

/**
 * The bytes of values a store may hold across all its sessions, so that writers are refused
 * with `resource_exhausted` before the process runs out of memory. Values are what it refuses
 * for; change history only borrows what values leave free (the store drops history first).
 */
export interface MemoryBudget {
  /** The most bytes of values and history held together. */
  readonly limit: number;
  /** Bytes of values held now. */
  readonly values: number;
  /** Whether `bytes` more (negative: fewer) would stay within the limit. */
  fits(bytes: number): boolean;
  /**
   * Takes `bytes` for values (a negative number gives some back).
   * @throws `resource_exhausted` naming `what` when they would exceed the limit; nothing is taken.
   */
  take(bytes: number, what: () => string): void;
  /** Gives back `bytes` of values. */
  give(bytes: number): void;
  /** The error for `what` needing `bytes` more than fit. */
  exhausted(bytes: number, what: string): StateError;
}

/** Creates an empty budget of `limit` bytes. */
export function createMemoryBudget(limit: number): MemoryBudget {
  let values = 0;
  const budget: MemoryBudget = {
    limit,
    get values() {
      return values;
    },
    fits(bytes) {
      return bytes <= 0 || values + bytes <= limit;
    },
    take(bytes, what) {
      if (!budget.fits(bytes)) throw budget.exhausted(bytes, what());
      values += bytes;
    },
    give(bytes) {
      values -= bytes;
    },
    exhausted(bytes, what) {
      return new StateError(
        "resource_exhausted",
        `${what} needs ${bytes} more bytes: the store holds ${values} bytes of values and its ` +
          `memory budget is ${limit} bytes (maxMemoryBytes)`,
      );
    },
  };
  return budget;
}
