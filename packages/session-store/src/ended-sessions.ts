import { StateError } from "@statebridge/state-provider";

/** How a session ended: its TTL ran out, or it was deleted. */
export type Ending = "expired" | "deleted";

/**
 * The most recently ended sessions and how each ended, so that a call naming one can say
 * why it is gone. Bounded: the oldest ending is forgotten first.
 */
export interface EndedSessions {
  /** Remembers that session `id` ended (again: it moves to the newest). */
  record(id: string, ending: Ending): void;
  /** Forgets session `id`: it lives again. */
  forget(id: string): void;
  /** Forgets every ending. */
  clear(): void;
  /** The `session_expired` error for session `id`, saying how it ended where that is known. */
  goneError(id: string): StateError;
}

/** Creates the record of ended sessions, remembering at most `remembered` (0: none). */
export function createEndedSessions(remembered: number): EndedSessions {
  const ended = new Map<string, Ending>();
  return {
    record(id, ending) {
      if (remembered === 0) return;
      ended.delete(id);
      ended.set(id, ending);
      if (ended.size > remembered) ended.delete(ended.keys().next().value as string);
    },
    forget(id) {
      ended.delete(id);
    },
    clear() {
      ended.clear();
    },
    goneError(id) {
      const quoted = JSON.stringify(id);
      switch (ended.get(id)) {
        case "expired":
          return new StateError(
            "session_expired",
            `session ${quoted} has expired (no activity within its TTL)`,
          );
        case "deleted":
          return new StateError("session_expired", `session ${quoted} was deleted`);
        default:
          return new StateError("session_expired", `session ${quoted} does not exist or has expired`);
      }
    },
  };
}
