import type { WatchEvents as WireWatchEvents } from "@statebridge/proto";

/** What opening a watch asks the server for. */
export interface WatchRequest {
  readonly sessionId: string;
  /** Names or ids, as the watcher gave them; each must exist. */
  readonly identifiers: readonly string[];
  /** Send the current values first, as `initial` events. Ignored with `fromRevision`. */
  readonly includeInitial: boolean;
  /** Resume after this revision: every later change, or `resync` events. */
  readonly fromRevision?: number;
  /**
   * The session's incarnation as the watch knows it: a session recreated under the same id
   * has another, and the server then ends the watch with `session_expired`.
   */
  readonly incarnation?: string;
}

/**
 * One message of an open watch, whatever the wire carried it in:
 * - `events`: every event of one revision, still encoded (a repeat is dropped before paying
 *   for decoding);
 * - `heartbeat`: the stream is alive, and every event up to `revision` was sent;
 * - `opened`: the server registered the watch at `revision` (its `created`), following the
 *   variable ids `ids` (one per requested identifier, "" for none; empty from a server that
 *   does not tell). Initial or replayed events may follow at or before that revision, so it
 *   is a resume point only for a watch that asked for neither.
 */
export type WatchMessage =
  | { readonly kind: "events"; readonly events: WireWatchEvents }
  | { readonly kind: "heartbeat"; readonly revision: number; readonly incarnation?: string }
  | {
      readonly kind: "opened";
      readonly revision: number;
      readonly ids: readonly string[];
      /** The session's incarnation, if the server tells it: a resume names it. */
      readonly incarnation?: string;
    };

/**
 * Where watch streams come from. `open` starts one attempt of a watch: its iterable yields
 * messages in order until the attempt fails (it throws what went wrong: a `ConnectError`, a
 * `StateError`, or anything a socket throws) or `signal` is aborted. A source detects a dead
 * stream itself and throws `unavailable` for it.
 */
export interface WatchSource {
  open(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage>;
  /** Releases what the source holds (a shared stream). Idempotent. */
  close(): void;
}
