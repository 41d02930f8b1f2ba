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
  /**
   * Starts one attempt like {@link open}, handing its messages to `listener` instead of an
   * iterator. Optional: a source that has it can call a waiting watch straight from the
   * arrival of its message, so that one message for 10,000 watches costs no promise per watch.
   */
  listen?(request: WatchRequest, signal: AbortSignal, listener: WatchListener): void;
  /** Releases what the source holds (a shared stream). Idempotent. */
  close(): void;
}

/** What an attempt of a watch is told, in order, by {@link WatchSource.listen}. */
export interface WatchListener {
  /**
   * One message. A promise it returns holds the next message back until it settles; what it
   * throws or rejects with ends the attempt with that error.
   */
  message(message: WatchMessage): PromiseLike<void> | undefined;
  /**
   * Told once, never while `message` is busy: `undefined` when the stream ended cleanly, else
   * what ended it (what {@link WatchSource.open}'s iterator would throw).
   */
  end(error: unknown): void;
}

/**
 * Starts one attempt of a watch on `source`, told to `listener`: through `source.listen`, or by
 * reading `source.open` for a source without it.
 */
export function listenTo(
  source: WatchSource,
  request: WatchRequest,
  signal: AbortSignal,
  listener: WatchListener,
): void {
  if (source.listen !== undefined) source.listen(request, signal, listener);
  else void readInto(source, request, signal, listener);
}

/** Reads `source.open`'s messages into `listener`, as a `for await` loop would. */
async function readInto(
  source: WatchSource,
  request: WatchRequest,
  signal: AbortSignal,
  listener: WatchListener,
): Promise<void> {
  let messages: AsyncIterator<WatchMessage>;
  try {
    messages = source.open(request, signal)[Symbol.asyncIterator]();
  } catch (error) {
    listener.end(error);
    return;
  }
  let outcome: unknown;
  try {
    for (;;) {
      const next = await messages.next();
      if (next.done === true) break;
      try {
        const pending = listener.message(next.value);
        if (pending !== undefined) await pending;
      } catch (error) {
        // The iterator is left, as `for await` leaves it when its body throws.
        await messages.return?.().then(undefined, () => {});
        throw error;
      }
      if (signal.aborted) {
        await messages.return?.();
        break;
      }
    }
  } catch (error) {
    outcome = error;
    if (outcome === undefined) outcome = new Error("the watch stream failed");
  }
  listener.end(outcome);
}
