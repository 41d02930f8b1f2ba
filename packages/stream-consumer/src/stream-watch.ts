import { sleep } from "@statebridge/grpc-wire";
import { WatchEventType as WireWatchEventType } from "@statebridge/proto";
import {
  StateError,
  type WatchEvent,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
} from "@statebridge/state-provider";
import { type ResolvedReconnectOptions, reconnectDelay } from "./backoff.js";
import { isRetryableWatchError, stateErrorFromConnectError } from "./connect-errors.js";
import { FollowedVariables } from "./followed-variables.js";
import { watchEventsOf } from "./watch-events.js";
import {
  listenTo,
  type WatchListener,
  type WatchMessage,
  type WatchRequest,
  type WatchSource,
} from "./watch-source.js";
import type { WatchStatus } from "./watch-status.js";

/** {@link WatchInfo} with what only a stream consumer counts. */
export interface StreamWatchInfo extends WatchInfo {
  /**
   * Events dropped because their revision was not after the last one seen: what a server
   * repeats after a resume. Not counted in `received`.
   */
  readonly duplicates: number;
}

/** A watch handle of a stream consumer. */
export interface StreamWatchHandle extends WatchHandle {
  info(): StreamWatchInfo;
}

/** Everything one watch needs; the consumer fills it in. */
export interface StreamWatchSettings {
  readonly watchId: string;
  readonly source: WatchSource;
  readonly request: WatchRequest;
  readonly watcher: Watcher;
  readonly filter: ((event: WatchEvent) => boolean) | undefined;
  readonly onError: ((error: StateError) => void) | undefined;
  /** Told each change of the connection state. */
  readonly onStatus?: ((status: WatchStatus) => void) | undefined;
  readonly reconnect: ResolvedReconnectOptions;
  /** The server's address, named in `unavailable` errors. */
  readonly target: string | undefined;
  /** Told once when the watch ends, however it ends. */
  readonly onEnd: () => void;
  /** Told about what a watcher, filter or `onError` threw; they never stop delivery. */
  readonly onWatcherError: (error: unknown, event: WatchEvent | undefined) => void;
}

/**
 * Starts one watch: opens its stream, hands each event to the watcher one at a time in
 * revision order, and reopens a broken stream from the last revision seen.
 * @returns the handle, once the first message (a heartbeat or the initial values) proved the
 *   watch open on the server.
 * @throws the `StateError` of a first attempt that failed (`not_found`, `unavailable`, …).
 */
export function startStreamWatch(settings: StreamWatchSettings): Promise<StreamWatchHandle> {
  const watch = new StreamWatch(settings);
  const handle: StreamWatchHandle = {
    watchId: settings.watchId,
    done: watch.done,
    async close() {
      watch.end(undefined);
    },
    info: () => watch.info(),
  };
  return new Promise<StreamWatchHandle>((resolve, reject) => {
    const opened = (error: StateError | undefined) => {
      if (error === undefined) resolve(handle);
      else reject(error);
    };
    watch.run(opened).then(
      () => {
        // A close() before the first message: the caller gets a closed watch rather than a hang.
        if (watch.isClosed()) resolve(handle);
      },
      (error: unknown) => {
        const failure = stateErrorFromConnectError(error);
        watch.end(failure);
        reject(failure);
      },
    );
  });
}

/**
 * One watch's state. A class, not closures: one update for 10,000 watches touches each watch's
 * state once, and one object with its fields inline (methods shared) is what that loop can
 * afford, where a dozen closures and contexts per watch each cost a cache miss.
 */
class StreamWatch {
  readonly startedAt = Date.now();
  readonly stop = new AbortController();
  readonly done: Promise<StateError | undefined>;
  state: WatchInfo["state"] = "active";
  // The revision the watch has reached: everything up to it was delivered or is not wanted.
  lastRevision: number | undefined;
  // The session's incarnation, as given or as the server first told it: every resume names it,
  // so that a session recreated under the same id ends the watch with session_expired.
  incarnation: string | undefined;
  readonly followed: FollowedVariables;
  // Whether the current attempt resumed by ids (see FollowedVariables): read for every message.
  resumedByIds = false;
  received = 0;
  filtered = 0;
  failed = 0;
  delivered = 0;
  duplicates = 0;
  reconnects = 0;
  attempt: AbortController | undefined;
  // Of the run: whether a first attempt opened, failed attempts in a row, and whether the
  // current attempt has had a message yet (and what it asked for).
  isOpen = false;
  failures = 0;
  heard = false;
  attemptRequest: WatchRequest;
  opened: (error: StateError | undefined) => void = () => {};
  private settleDone!: (value: StateError | undefined) => void;
  private readonly request: WatchRequest;
  private readonly watcher: Watcher;
  private readonly filter: ((event: WatchEvent) => boolean) | undefined;

  constructor(private readonly settings: StreamWatchSettings) {
    const { request } = settings;
    this.request = request;
    this.watcher = settings.watcher;
    this.filter = settings.filter;
    this.lastRevision = request.fromRevision;
    this.incarnation = request.incarnation === "" ? undefined : request.incarnation;
    this.followed = new FollowedVariables(request.identifiers);
    this.attemptRequest = request;
    this.done = new Promise<StateError | undefined>((resolve) => {
      this.settleDone = resolve;
    });
  }

  info(): StreamWatchInfo {
    return {
      watchId: this.settings.watchId,
      identifiers: this.request.identifiers,
      revision: this.lastRevision ?? 0,
      received: this.received,
      filtered: this.filtered,
      failed: this.failed,
      delivered: this.delivered,
      duplicates: this.duplicates,
      reconnects: this.reconnects,
      startedAt: this.startedAt,
      state: this.state,
    };
  }

  // A method, not an inline comparison: the state changes across the awaits of `run`.
  isClosed(): boolean {
    return this.state === "closed";
  }

  end(error: StateError | undefined): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.stop.abort();
    this.attempt?.abort();
    this.settings.onEnd();
    if (error !== undefined && this.settings.onError !== undefined) {
      try {
        this.settings.onError(error);
      } catch (onErrorFailure) {
        this.settings.onWatcherError(onErrorFailure, undefined);
      }
    }
    this.settleDone(error);
  }

  /**
   * Hands one event to the filter and the watcher. Synchronous unless the watcher returns a
   * promise: then the promise, which the next event waits for.
   */
  deliver(event: WatchEvent): Promise<void> | undefined {
    if (this.filter !== undefined) {
      let keep: boolean;
      try {
        keep = this.filter(event);
      } catch (error) {
        this.failed++;
        this.settings.onWatcherError(error, event);
        return undefined;
      }
      if (!keep) {
        this.filtered++;
        return undefined;
      }
    }
    this.delivered++;
    let result: unknown;
    try {
      result = this.watcher(event);
    } catch (error) {
      this.failed++;
      this.settings.onWatcherError(error, event);
      return undefined;
    }
    if (!isPromiseLike(result)) return undefined;
    return Promise.resolve(result).then(
      () => {},
      (error: unknown) => {
        this.failed++;
        this.settings.onWatcherError(error, event);
      },
    );
  }

  /** Delivers `events` from `index` on, one at a time; a promise only if a watcher made one. */
  deliverFrom(events: readonly WatchEvent[], index: number): Promise<void> | undefined {
    for (let position = index; position < events.length; position++) {
      if (this.isClosed()) return undefined;
      const pending = this.deliver(events[position] as WatchEvent);
      if (pending !== undefined) return pending.then(() => this.deliverFrom(events, position + 1));
    }
    return undefined;
  }

  /** The first message of an attempt proves it open; then each message is handled. */
  onMessage(message: WatchMessage): Promise<void> | undefined {
    if (this.isClosed()) return undefined;
    if (!this.heard) {
      this.heard = true;
      this.failures = 0;
      this.state = "active";
      if (this.isOpen) {
        this.tell({
          kind: "resumed",
          revision: this.attemptRequest.fromRevision ?? this.lastRevision ?? 0,
        });
      } else {
        this.isOpen = true;
        this.tell({ kind: "connected", revision: revisionOf(message) });
        this.opened(undefined);
      }
    }
    return this.handleMessage(message);
  }

  handleMessage(message: WatchMessage): Promise<void> | undefined {
    if (message.kind !== "events" && this.incarnation === undefined && message.incarnation) {
      this.incarnation = message.incarnation;
    }
    if (message.kind === "heartbeat") {
      if (this.lastRevision === undefined || message.revision > this.lastRevision) {
        this.lastRevision = message.revision;
      }
      return undefined;
    }
    if (message.kind === "opened") {
      this.followed.follow(message.ids);
      // Without initial values or a resume point, nothing at or before it will come.
      if (this.lastRevision === undefined && !this.request.includeInitial)
        this.lastRevision = message.revision;
      return undefined;
    }
    const revision = Number(message.events.revision);
    // A resync is the server's current state, even behind a resume point it never reached (a
    // fromRevision ahead of the session): applied, and the watch goes on from there.
    const resync = message.events.events[0]?.type === WireWatchEventType.RESYNC;
    if (this.lastRevision !== undefined && revision <= this.lastRevision && !resync) {
      // A resumed stream may repeat what the broken one already delivered: never twice.
      this.duplicates += message.events.events.length;
      return undefined;
    }
    const events = watchEventsOf(message.events);
    this.lastRevision = revision;
    this.received += events.length;
    for (const event of events) {
      if (event.type === "deleted") this.followed.deleted(event.id, event.identifier);
    }
    return this.deliverFrom(
      this.resumedByIds ? events.map((event) => this.followed.asNamed(event)) : events,
      0,
    );
  }

  currentRequest(): WatchRequest {
    const fromRevision = this.lastRevision;
    const identifiers = this.followed.nextIdentifiers(fromRevision !== undefined);
    this.resumedByIds = this.followed.resumedByIds;
    if (fromRevision === undefined) return this.request;
    return { ...this.request, identifiers, includeInitial: false, fromRevision };
  }

  tell(status: WatchStatus): void {
    if (this.settings.onStatus === undefined) return;
    try {
      this.settings.onStatus(status);
    } catch (onStatusFailure) {
      this.settings.onWatcherError(onStatusFailure, undefined);
    }
  }

  /** Runs attempts until the watch ends. `opened` settles after the first attempt's first message. */
  async run(opened: (error: StateError | undefined) => void): Promise<void> {
    this.opened = opened;
    const { reconnect, request } = this.settings;
    while (!this.isClosed()) {
      const current = new AbortController();
      this.attempt = current;
      this.heard = false;
      const next = this.currentRequest();
      this.attemptRequest = next;
      if (next.identifiers.length === 0) {
        // Every watched variable was deleted: nothing is left to follow, nor to reopen.
        this.state = "active";
        await new Promise((resolve) => this.stop.signal.addEventListener("abort", resolve, { once: true }));
        return;
      }
      const outcome = await new Promise<unknown>((resolve) => {
        const attemptListener = new AttemptListener(this, resolve);
        // Each message is handled as it arrives, from the source's own loop when the watch is
        // idle: a message for many watches reaches them without a promise per watch.
        try {
          listenTo(
            this.settings.source,
            this.incarnation === undefined ? next : { ...next, incarnation: this.incarnation },
            current.signal,
            attemptListener,
          );
        } catch (error) {
          attemptListener.end(error);
        }
      });
      if (this.isClosed()) return;
      const failure =
        outcome === undefined
          ? // The server has no reason to end a watch with OK; read it like a shutdown.
            new StateError("unavailable", "the server ended the watch stream")
          : stateErrorFromConnectError(outcome, {
              subject: `watch ${describeIdentifiers(request.identifiers)}`,
            });
      if (!this.isOpen) {
        this.end(failure);
        opened(failure);
        return;
      }
      if (!isRetryableWatchError(failure)) {
        this.end(failure);
        return;
      }
      if (!this.heard) this.failures++;
      if (this.failures >= reconnect.maxFailures) {
        const gaveUp = new StateError(
          "unavailable",
          `watch ${describeIdentifiers(request.identifiers)} gave up after ${this.failures} failed reconnects in a row: ${failure.rawMessage}`,
          { cause: failure },
        );
        this.tell({ kind: "gave_up", error: gaveUp });
        this.end(gaveUp);
        return;
      }
      this.state = "reconnecting";
      const delayMs = reconnectDelay(this.failures + 1, reconnect);
      this.tell({ kind: "reconnecting", attempt: this.failures + 1, delayMs, error: failure });
      await sleep(delayMs, this.stop.signal);
      if (this.isClosed()) return;
      this.reconnects++;
    }
  }
}

/** One attempt's {@link WatchListener}: nothing it is told after the attempt ended counts. */
class AttemptListener implements WatchListener {
  private over = false;

  constructor(
    private readonly watch: StreamWatch,
    private readonly resolve: (outcome: unknown) => void,
  ) {}

  message(message: WatchMessage): Promise<void> | undefined {
    return this.over ? undefined : this.watch.onMessage(message);
  }

  end(error: unknown): void {
    if (this.over) return;
    this.over = true;
    this.resolve(error);
  }
}

/** The revision a message is at. */
function revisionOf(message: WatchMessage): number {
  return message.kind === "events" ? Number(message.events.revision) : message.revision;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function describeIdentifiers(identifiers: readonly string[]): string {
  const shown = identifiers.slice(0, 3).map((identifier) => JSON.stringify(identifier));
  return identifiers.length > 3 ? `${shown.join(", ")} and ${identifiers.length - 3} more` : shown.join(", ");
}
