import { StateError } from "@statebridge/state-provider";
import type { CallPolicy } from "./call-policy.js";
import type { NearCache } from "./near-cache.js";
import type { SessionGuard } from "./session-guard.js";
import type { TypeCache } from "./type-cache.js";
import type { UnaryCaller } from "./unary-caller.js";

/**
 * What the operations of one BridgedState share: its session, how it calls the server, and
 * what it has learned of the session's variables. The provider builds it once; its reads,
 * writes and session transfer take it as their first argument.
 */
export interface BridgedCore {
  /** The session every call names. */
  readonly sessionId: string;
  /** The writer's name recorded with every change. */
  readonly source: string;
  /** Makes one unary call on the provider's connection. */
  readonly unary: UnaryCaller;
  /** Deadlines, retries and closing, every call checked by {@link BridgedCore.session} first. */
  readonly policy: CallPolicy;
  /** Whether the session ended (`session_expired`). */
  readonly session: SessionGuard;
  /** The types of the variables seen, so that values go in their type's own wire field. */
  readonly types: TypeCache;
  /** The near cache, when `cache` is on. */
  readonly cache: NearCache | undefined;
  /** Whether every unary call is encoded in binary (the provider's own gRPC connection). */
  readonly binaryWire: boolean;
}

/** @throws `closed` once the provider was closed. */
export function assertOpen(core: BridgedCore): void {
  if (core.policy.closed)
    throw new StateError("closed", `the BridgedState of session ${core.sessionId} is closed`);
}
