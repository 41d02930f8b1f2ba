import type { StateError } from "@statebridge/state-provider";
import { type ConnectErrorContext, stateErrorFromConnectError } from "@statebridge/stream-consumer";

/** What {@link stateErrorOf} knows about the call besides the error. */
export type TranslationContext = Pick<ConnectErrorContext, "closed" | "target">;

/**
 * Translates whatever a call to the bridge-server threw into a {@link StateError}: the client's
 * one seam from the wire to the domain, shared with watch streams (see
 * `stateErrorFromConnectError` of `@statebridge/stream-consumer`), so that a unary call and a
 * watch report the same failure with the same code.
 *
 * The exact code comes from the `ErrorDetail` in the status details, else from the
 * `statebridge-error-code` trailer, else from the gRPC status alone. A `partial_failure`
 * carries its `failures` and `applied` maps. Failures that did not come from the server (a
 * refused connection, a deadline, a reset stream) become `unavailable`; a call cut by
 * `close()` becomes `closed`.
 */
export function stateErrorOf(error: unknown, context: TranslationContext = {}): StateError {
  return stateErrorFromConnectError(error, context);
}
