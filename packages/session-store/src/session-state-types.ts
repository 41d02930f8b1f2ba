import type { ParsedExport, Variable } from "@statebridge/state-provider";
import type { ChangeRecord } from "./change-record.js";
import type { MemoryBudget } from "./memory-budget.js";

/** Options of `createSessionState`. */
export interface SessionStateOptions {
  /** The session's id, for messages. */
  readonly sessionId: string;
  /** Wall clock in epoch milliseconds, for timestamps. */
  readonly now: () => number;
  /** Most variables held; more is `resource_exhausted`. */
  readonly maxVariables: number;
  /** Largest value in bytes (`valueByteLength`); larger is `resource_exhausted`. */
  readonly maxValueBytes: number;
  /** The store-wide budget every value is taken from and given back to. */
  readonly budget: MemoryBudget;
  /** Told of every committed change to a value, after it is applied, in revision order. */
  readonly onCommit: (record: ChangeRecord) => void;
}

/** What a batch writes: each identifier as given with its raw value. */
export type BatchUpdates = Iterable<readonly [string, unknown]>;

/**
 * The variables of one session and its revision counter. Every single-variable operation is
 * O(1): variables are stored one by one as frozen objects, and a write replaces only the
 * written variable. Every value goes through the shared type system, so this refuses exactly
 * what a LocalState refuses.
 */
export interface SessionState {
  /** The session revision: the number of the last mutation. */
  readonly revision: number;
  /** Variables held. */
  readonly size: number;
  /** Bytes held for the variables, all taken from the budget. */
  readonly bytes: number;
  /** A variable's value and metadata bytes (what an event carrying it holds), or 0 if absent. */
  bytesOf(id: string): number;
  /** A variable by name or id, or `undefined`. */
  find(identifier: string): Variable | undefined;
  /** A variable by name or id. @throws `not_found`. */
  require(identifier: string): Variable;
  /** Every variable, in creation order. */
  variables(): IterableIterator<Variable>;
  register(
    name: unknown,
    type: unknown,
    initial: unknown,
    options: {
      readonly constraints?: unknown;
      readonly metadata?: unknown;
      readonly description?: unknown;
      readonly source: string;
    },
  ): { readonly variable: Variable; readonly revision: number };
  set(
    identifier: string,
    value: unknown,
    options: { readonly metadata?: unknown; readonly expectedVersion?: unknown; readonly source: string },
  ): { readonly version: number; readonly revision: number };
  updateMany(
    updates: BatchUpdates,
    options: { readonly metadata?: unknown; readonly atomic: boolean; readonly source: string },
  ): { readonly revision: number; readonly versions: Map<string, number> };
  list(pattern?: unknown): Variable[];
  delete(identifier: string, options: { readonly source: string }): { readonly revision: number };
  /**
   * Adds every variable of a parsed export, all or nothing, keeping ids and versions. Into an
   * empty session the revision becomes the document's (never lower than the current one);
   * otherwise max(current, document) + 1.
   * @returns the new revision and whether the session was empty (its history starts anew).
   */
  import(parsed: ParsedExport): {
    readonly revision: number;
    readonly imported: number;
    readonly adopted: boolean;
  };
  /** Drops every variable (the session ended), giving their bytes back to the budget. */
  clear(): void;
}
