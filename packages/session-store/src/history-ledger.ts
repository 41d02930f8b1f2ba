import type { RevisionHistory } from "@statebridge/state-provider/change-feed";
import type { ChangeRecord } from "./change-record.js";
import type { MemoryBudget } from "./memory-budget.js";

/** What the ledger reads of a session: its change history. */
export interface HistoryHolder {
  readonly history: RevisionHistory<ChangeRecord>;
}

/**
 * The change histories of every session of a store, held against its memory budget: values
 * are what the budget refuses writes for, and history only borrows what values leave free.
 */
export interface HistoryLedger {
  /** Bytes of history held now, across sessions. */
  readonly held: number;
  /**
   * Keeps a record in its session's history, then drops history — least recently written
   * sessions first, oldest records first — until values and history fit the memory budget.
   */
  remember(session: HistoryHolder, record: ChangeRecord): void;
  /** Empties a session's history, which starts again at revision `base`. */
  reset(session: HistoryHolder, base: number): void;
}

/** Creates an empty ledger of histories held within `budget`. */
export function createHistoryLedger(budget: MemoryBudget): HistoryLedger {
  /** Sessions whose history holds records, least recently written first. */
  const order = new Set<HistoryHolder>();
  let held = 0;
  return {
    get held() {
      return held;
    },
    remember(session, record) {
      held -= session.history.bytes;
      session.history.push(record);
      held += session.history.bytes;
      order.delete(session);
      if (session.history.size > 0) order.add(session);
      while (budget.values + held > budget.limit) {
        const oldest = order.values().next();
        if (oldest.done === true) break;
        held -= oldest.value.history.dropOldest();
        if (oldest.value.history.size === 0) order.delete(oldest.value);
      }
    },
    reset(session, base) {
      held -= session.history.bytes;
      session.history.reset(base);
      order.delete(session);
    },
  };
}
