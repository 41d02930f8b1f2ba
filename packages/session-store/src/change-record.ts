import type { Metadata, VariableType, VariableValue } from "@statebridge/state-provider";

/**
 * One variable's part of a committed change. Storage produces these; the observer registry
 * and the history consume them, so storage never needs to know who is watching.
 */
export interface VariableChange {
  /** `value_change` for a set or a batch member, `deleted` when the variable was removed. */
  readonly kind: "value_change" | "deleted";
  readonly id: string;
  readonly name: string;
  readonly variableType: VariableType;
  /** The value before the change. */
  readonly oldValue: VariableValue | undefined;
  /** The value after the change; `undefined` when deleted. */
  readonly newValue: VariableValue | undefined;
  /** The variable's version after the change (its last version when deleted). */
  readonly version: number;
  /** Who made the change. */
  readonly source: string;
  /** The variable's metadata after the change. */
  readonly metadata: Metadata;
  /** Wall-clock epoch milliseconds of the change. */
  readonly timestamp: number;
  /**
   * What the change holds and its event carries, in bytes: the old and new values (as
   * `valueByteLength` measures them), the metadata's JSON and a fixed overhead.
   */
  readonly bytes: number;
}

/**
 * Everything one revision changed: a single set or delete, or a whole batch. Registrations
 * and imports take revisions too but change no watched value, so they produce no record.
 */
export interface ChangeRecord {
  readonly revision: number;
  readonly changes: readonly VariableChange[];
  /** The sum of the changes' `bytes`: what the history counts against its byte bounds. */
  readonly bytes: number;
}
