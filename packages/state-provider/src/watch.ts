import type { StateError } from "./errors.js";
import type { Metadata, VariableType, VariableValue } from "./variable.js";

/**
 * The kind of a watch event.
 * - `initial`: the value at the snapshot revision, sent first when `includeInitial` is set.
 * - `value_change`: a set, or one member of a batch.
 * - `deleted`: the variable was deleted; no further events come for it.
 * - `resync`: the watcher resumed from a revision older than the kept history; this is the
 *   current value, and events in between are not available. Never a silent gap.
 */
export type WatchEventType = "initial" | "value_change" | "deleted" | "resync";

/** One change seen by a watcher. */
export interface WatchEvent {
  readonly type: WatchEventType;
  /** The identifier as the watcher named it (a name or an id). */
  readonly identifier: string;
  readonly id: string;
  readonly name: string;
  readonly variableType: VariableType;
  /** The value before the change; `undefined` for `initial` and `resync` events. */
  readonly oldValue: VariableValue | undefined;
  /** The value after the change; `undefined` for `deleted` events. */
  readonly newValue: VariableValue | undefined;
  /** The variable's version after the change. */
  readonly version: number;
  /** The session revision of the change; all members of one atomic batch share it. */
  readonly revision: number;
  /** Who made the change. */
  readonly source: string;
  /** The variable's metadata after the change. */
  readonly metadata: Metadata;
  /** Wall-clock epoch milliseconds of the change. */
  readonly timestamp: number;
}

/**
 * A watcher. Calls are made one at a time, in order: if it returns a promise, the next event
 * for this watcher waits until it settles. A throwing or rejecting watcher is counted in
 * `failed` and does not stop delivery.
 */
export type Watcher = (event: WatchEvent) => void | Promise<void>;

/** Options of `watch()`. */
export interface WatchOptions {
  /** Send the current values first, as `initial` events of the snapshot revision. Default false. */
  readonly includeInitial?: boolean;
  /**
   * Only events for which this returns true reach the watcher. A throwing filter counts the
   * event as failed and does not stop delivery.
   */
  readonly filter?: (event: WatchEvent) => boolean;
  /**
   * Resume: deliver every change after this revision. If the kept history no longer reaches
   * back that far, `resync` events with the current values come instead. Overrides
   * `includeInitial`.
   */
  readonly fromRevision?: number;
  /** Aborting it closes the watch. */
  readonly signal?: AbortSignal;
  /** Called once if the watch ends because of an error (session expired, gave up reconnecting). */
  readonly onError?: (error: StateError) => void;
}

/** A snapshot of one watch's state and counters. */
export interface WatchInfo {
  /** Unique among this provider's watches. */
  readonly watchId: string;
  /** The identifiers as the watcher named them. */
  readonly identifiers: readonly string[];
  /** The revision of the last event delivered or heard (0 if none). */
  readonly revision: number;
  /** Events received from the source. */
  readonly received: number;
  /** Events the filter kept from the watcher. */
  readonly filtered: number;
  /** Events whose watcher or filter threw. */
  readonly failed: number;
  /** Events handed to the watcher. */
  readonly delivered: number;
  /** Times the watch's stream was reopened (0 for in-process backends). */
  readonly reconnects: number;
  /** Wall-clock epoch milliseconds when the watch started. */
  readonly startedAt: number;
  readonly state: "active" | "reconnecting" | "closed";
}

/** What `watch()` returns. */
export interface WatchHandle {
  readonly watchId: string;
  /** Stops delivery at once and releases the watch on both ends. Idempotent. */
  close(): Promise<void>;
  info(): WatchInfo;
  /**
   * Settles when the watch ends: with `undefined` after `close()`, an abort or the provider's
   * close; with the {@link StateError} that ended it otherwise (for example `session_expired`).
   */
  readonly done: Promise<StateError | undefined>;
}
