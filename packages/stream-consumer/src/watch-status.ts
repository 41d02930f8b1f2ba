import type { StateError, WatchOptions } from "@statebridge/state-provider";

/**
 * The connection state of one watch, as its `onStatus` callback is told it:
 * - `connected`: the first stream is open (its first message arrived); `revision` is where
 *   the watch starts.
 * - `reconnecting`: the stream broke; reopen number `attempt` (1 after a stream that was
 *   open, then counting failures in a row) comes in `delayMs`; `error` is why.
 * - `resumed`: a reopened stream is open again; every change after `revision` follows.
 * - `gave_up`: `maxFailures` reopens failed in a row; the watch ends with `error`
 *   (`unavailable`), which `onError` and the handle's `done` also tell.
 */
export type WatchStatus =
  | { readonly kind: "connected"; readonly revision: number }
  | {
      readonly kind: "reconnecting";
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: StateError;
    }
  | { readonly kind: "resumed"; readonly revision: number }
  | { readonly kind: "gave_up"; readonly error: StateError };

/** {@link WatchOptions} with the connection state of a watch over a network. */
export interface StreamWatchOptions extends WatchOptions {
  /**
   * Told each change of the watch's connection state, in order (see {@link WatchStatus}), so
   * that a server gone for good shows as `reconnecting` at once rather than as silence. What
   * it throws goes to `onWatcherError` and changes nothing. Default: not told.
   */
  readonly onStatus?: (status: WatchStatus) => void;
}
