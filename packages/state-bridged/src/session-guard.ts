import { isStateError, StateError } from "@statebridge/state-provider";
import type { CallPolicy } from "./call-policy.js";

/**
 * Remembers that a provider's session ended, so that the provider never goes on with a
 * session created again under the same id (after a server restart, say) as if it were its
 * own: once a call or a watch was told `session_expired`, every later call fails with it.
 */
export interface SessionGuard {
  /** The error every call now fails with, once the session ended. */
  readonly ended: StateError | undefined;
  /** Records that the session ended, if `error` says so (`session_expired`). */
  observe(error: unknown): void;
  /** @throws the recorded `session_expired` once the session ended. */
  assertLive(): void;
  /** `policy`, with every call checked first and its `session_expired` recorded. */
  wrap(policy: CallPolicy): CallPolicy;
}

/** Creates the {@link SessionGuard} of the session `sessionId`. */
export function createSessionGuard(sessionId: string): SessionGuard {
  let ended: StateError | undefined;
  const guard: SessionGuard = {
    get ended() {
      return ended;
    },
    observe(error) {
      if (ended !== undefined || !isStateError(error, "session_expired")) return;
      ended = new StateError(
        "session_expired",
        `session ${JSON.stringify(sessionId)} of this BridgedState ended (${error.rawMessage}); ` +
          "a session created again under that id would be another one: create a new BridgedState to use it",
        { cause: error },
      );
    },
    assertLive() {
      if (ended !== undefined) throw ended;
    },
    wrap(policy) {
      async function guarded<T>(run: () => Promise<T>): Promise<T> {
        // A closed provider says `closed`, whatever happened to its session.
        if (!policy.closed) guard.assertLive();
        try {
          return await run();
        } catch (error) {
          guard.observe(error);
          throw error;
        }
      }
      return {
        once: (call) => guarded(() => policy.once(call)),
        idempotent: (call) => guarded(() => policy.idempotent(call)),
        close: () => policy.close(),
        get closed() {
          return policy.closed;
        },
      };
    },
  };
  return guard;
}
