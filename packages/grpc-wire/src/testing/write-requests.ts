import fc from "fast-check";
import { arbitraryInt64, arbitraryText } from "./arbitraries.js";

/** SetVariableRequest's fields as the properties generate them, `value` as `value` gives it. */
export interface GeneratedSetVariable<V> {
  sessionId?: string;
  identifier?: string;
  value?: V;
  metadataJson?: string;
  expectedVersion?: bigint;
  source?: string;
}

/** SetVariablesRequest's fields as the properties generate them, each update's value as `value` gives it. */
export interface GeneratedSetVariables<V> {
  sessionId?: string;
  updates?: { identifier?: string; value?: V }[];
  metadataJson?: string;
  atomic?: boolean;
  source?: string;
}

/**
 * SetVariableRequest init shapes with any field present or not, for the write codecs'
 * properties; `value` says which values (messages, or the provider's init shapes).
 */
export function arbitrarySetVariable<V>(value: fc.Arbitrary<V>): fc.Arbitrary<GeneratedSetVariable<V>> {
  return fc.record(
    {
      sessionId: arbitraryText,
      identifier: arbitraryText,
      value,
      metadataJson: arbitraryText,
      expectedVersion: arbitraryInt64,
      source: arbitraryText,
    },
    { requiredKeys: [] },
  );
}

/** SetVariablesRequest init shapes with up to 8 updates, any field present or not; `value` as above. */
export function arbitrarySetVariables<V>(value: fc.Arbitrary<V>): fc.Arbitrary<GeneratedSetVariables<V>> {
  return fc.record(
    {
      sessionId: arbitraryText,
      updates: fc.array(fc.record({ identifier: arbitraryText, value }, { requiredKeys: [] }), {
        maxLength: 8,
      }),
      metadataJson: arbitraryText,
      atomic: fc.boolean(),
      source: arbitraryText,
    },
    { requiredKeys: [] },
  );
}

/** Whether the hand-written codecs must read an int64 themselves, not leave it to protobuf-es: [0, 2^49). */
export function readByHand(value: bigint): boolean {
  return value >= 0n && value < 2n ** 49n;
}
