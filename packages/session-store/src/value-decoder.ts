import { StateError, type VariableType } from "@statebridge/state-provider";
import type { ValueDecoder } from "./types.js";

/** The value to write: what `decoder` makes of it for `type`, or the value itself. */
export function decodeValue(value: unknown, type: VariableType): unknown {
  return typeof value === "function" ? (value as ValueDecoder)(type) : value;
}

/** A batch's values with its {@link ValueDecoder}s applied, and what each failed decoder threw. */
export interface DecodedBatch {
  readonly values: readonly unknown[];
  /** By index in the batch. */
  readonly failures: ReadonlyMap<number, StateError>;
}

/**
 * Applies a batch's decoders in order, as a server that read the types first would: `typeOf`
 * gives an identifier's type, undefined for a missing variable (its update is left as is). In an
 * atomic batch the first failure in order is thrown: a missing variable's (`missing` makes its
 * error) when it comes before the first failing decoder, else that decoder's.
 */
export function decodeBatch(
  updates: readonly (readonly [string, unknown])[],
  typeOf: (index: number) => VariableType | undefined,
  atomic: boolean,
  missing: (identifier: string) => StateError,
): DecodedBatch {
  const values: unknown[] = [];
  const failures = new Map<number, StateError>();
  updates.forEach(([, value], index) => {
    const type = typeof value === "function" ? typeOf(index) : undefined;
    if (type === undefined) {
      values.push(value);
      return;
    }
    try {
      values.push(decodeValue(value, type));
    } catch (error) {
      if (!(error instanceof StateError)) throw error;
      if (atomic) {
        for (let earlier = 0; earlier < index; earlier++) {
          if (typeOf(earlier) === undefined)
            throw missing((updates[earlier] as readonly [string, unknown])[0]);
        }
        throw error;
      }
      failures.set(index, error);
      values.push(undefined);
    }
  });
  return { values, failures };
}
