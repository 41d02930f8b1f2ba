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
import { watchEventsOf } from "./watch-events.js";
import { listenTo, type WatchMessage, type WatchRequest, type WatchSource } from "./watch-source.js";
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
  const { watchId, source, request, watcher, filter, reconnect } = settings;
  const startedAt = Date.now();
  const stop = new AbortController();
  let state: WatchInfo["state"] = "active";
  // The revision the watch has reached: everything up to it was delivered or is not wanted.
  let lastRevision: number | undefined = request.fromRevision;
  // The session's incarnation, as given or as the server first told it: every resume names it,
  // so that a session recreated under the same id ends the watch with session_expired.
  let incarnation = request.incarnation === "" ? undefined : request.incarnation;
  // The watch follows the ids its identifiers named when it started, told by the server's
  // first `created`; a resume names these ids, so a variable registered later under a watched
  // name is never picked up. A `deleted` event ends an identifier's interest for good.
  const followedIds = new Map<string, string>();
  const identifierById = new Map<string, string>();
  const endedIdentifiers = new Set<string>();
  // What the current attempt named: the caller's identifiers, or on a resume the ids.
  let sentIdentifiers: readonly string[] = request.identifiers;
  let resumedByIds = false;
  let received = 0;
  let filtered = 0;
  let failed = 0;
  let delivered = 0;
  let duplicates = 0;
  let reconnects = 0;
  let attempt: AbortController | undefined;
  let settleDone!: (value: StateError | undefined) => void;
  const done = new Promise<StateError | undefined>((resolve) => {
    settleDone = resolve;
  });

  const handle: StreamWatchHandle = {
    watchId,
    done,
    async close() {
      end(undefined);
    },
    info() {
      return {
        watchId,
        identifiers: request.identifiers,
        revision: lastRevision ?? 0,
        received,
        filtered,
        failed,
        delivered,
        duplicates,
        reconnects,
        startedAt,
        state,
      };
    },
  };

  // A function, not an inline comparison: the state changes across the awaits of `run`.
  function isClosed(): boolean {
    return state === "closed";
  }

  function end(error: StateError | undefined): void {
    if (state === "closed") return;
    state = "closed";
    stop.abort();
    attempt?.abort();
    settings.onEnd();
    if (error !== undefined && settings.onError !== undefined) {
      try {
        settings.onError(error);
      } catch (onErrorFailure) {
        settings.onWatcherError(onErrorFailure, undefined);
      }
    }
    settleDone(error);
  }

  /**
   * Hands one event to the filter and the watcher. Synchronous unless the watcher returns a
   * promise: then the promise, which the next event waits for.
   */
  function deliver(event: WatchEvent): Promise<void> | undefined {
    if (filter !== undefined) {
      let keep: boolean;
      try {
        keep = filter(event);
      } catch (error) {
        failed++;
        settings.onWatcherError(error, event);
        return undefined;
      }
      if (!keep) {
        filtered++;
        return undefined;
      }
    }
    delivered++;
    let result: unknown;
    try {
      result = watcher(event);
    } catch (error) {
      failed++;
      settings.onWatcherError(error, event);
      return undefined;
    }
    if (!isPromiseLike(result)) return undefined;
    return Promise.resolve(result).then(
      () => {},
      (error: unknown) => {
        failed++;
        settings.onWatcherError(error, event);
      },
    );
  }

  /** Delivers `events` from `index` on, one at a time; a promise only if a watcher made one. */
  function deliverFrom(events: readonly WatchEvent[], index: number): Promise<void> | undefined {
    for (let position = index; position < events.length; position++) {
      if (isClosed()) return undefined;
      const pending = deliver(events[position] as WatchEvent);
      if (pending !== undefined) return pending.then(() => deliverFrom(events, position + 1));
    }
    return undefined;
  }

  function handleMessage(message: WatchMessage): Promise<void> | undefined {
    if (message.kind !== "events" && incarnation === undefined && message.incarnation) {
      incarnation = message.incarnation;
    }
    if (message.kind === "heartbeat") {
      if (lastRevision === undefined || message.revision > lastRevision) lastRevision = message.revision;
      return undefined;
    }
    if (message.kind === "opened") {
      follow(message.ids);
      // Without initial values or a resume point, nothing at or before it will come.
      if (lastRevision === undefined && !request.includeInitial) lastRevision = message.revision;
      return undefined;
    }
    const revision = Number(message.events.revision);
    // A resync is the server's current state, even behind a resume point it never reached (a
    // fromRevision ahead of the session): applied, and the watch goes on from there.
    const resync = message.events.events[0]?.type === WireWatchEventType.RESYNC;
    if (lastRevision !== undefined && revision <= lastRevision && !resync) {
      // A resumed stream may repeat what the broken one already delivered: never twice.
      duplicates += message.events.events.length;
      return undefined;
    }
    const events = watchEventsOf(message.events);
    lastRevision = revision;
    received += events.length;
    for (const event of events) if (event.type === "deleted") endIdentifiersOf(event.id, event.identifier);
    return deliverFrom(resumedByIds ? events.map(asNamed) : events, 0);
  }

  /** Records the ids of the first attempt, and drops what a resume found gone ("" ids). */
  function follow(ids: readonly string[]): void {
    if (ids.length !== sentIdentifiers.length) return;
    sentIdentifiers.forEach((identifier, index) => {
      const id = ids[index] as string;
      if (resumedByIds) {
        if (id === "")
          for (const [named, followed] of followedIds)
            if (followed === identifier) endedIdentifiers.add(named);
        return;
      }
      if (id === "") return;
      if (!followedIds.has(identifier)) followedIds.set(identifier, id);
      if (!identifierById.has(id)) identifierById.set(id, identifier);
    });
  }

  /** An event of a stream resumed by ids, with the identifier as the watcher named it. */
  function asNamed(event: WatchEvent): WatchEvent {
    const identifier = identifierById.get(event.id);
    return identifier === undefined || identifier === event.identifier ? event : { ...event, identifier };
  }

  function endIdentifiersOf(id: string, identifier: string): void {
    endedIdentifiers.add(identifier);
    for (const [named, followed] of followedIds) if (followed === id) endedIdentifiers.add(named);
  }

  /** What a resume names: the followed id of each identifier still of interest, once each. */
  function resumeIdentifiers(): string[] {
    const identifiers = new Set<string>();
    for (const identifier of request.identifiers) {
      if (!endedIdentifiers.has(identifier)) identifiers.add(followedIds.get(identifier) ?? identifier);
    }
    return [...identifiers];
  }

  function currentRequest(): WatchRequest {
    if (lastRevision === undefined) return request;
    resumedByIds = followedIds.size > 0;
    sentIdentifiers = resumeIdentifiers();
    return { ...request, identifiers: sentIdentifiers, includeInitial: false, fromRevision: lastRevision };
  }

  function tell(status: WatchStatus): void {
    if (settings.onStatus === undefined) return;
    try {
      settings.onStatus(status);
    } catch (onStatusFailure) {
      settings.onWatcherError(onStatusFailure, undefined);
    }
  }

  /** Runs attempts until the watch ends. `opened` settles after the first attempt's first message. */
  async function run(opened: (error: StateError | undefined) => void): Promise<void> {
    let isOpen = false;
    let failures = 0;
    while (!isClosed()) {
      const current = new AbortController();
      attempt = current;
      let heard = false;
      const next = currentRequest();
      if (next.identifiers.length === 0) {
        // Every watched variable was deleted: nothing is left to follow, nor to reopen.
        state = "active";
        await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
        return;
      }
      const outcome = await new Promise<unknown>((resolve) => {
        let over = false;
        const finish = (error: unknown) => {
          if (over) return;
          over = true;
          resolve(error);
        };
        const attemptRequest = incarnation === undefined ? next : { ...next, incarnation };
        // Each message is handled as it arrives, from the source's own loop when the watch is
        // idle: a message for many watches reaches them without a promise per watch.
        try {
          listenTo(source, attemptRequest, current.signal, {
            message(message) {
              if (over || isClosed()) return undefined;
              if (!heard) {
                heard = true;
                failures = 0;
                state = "active";
                if (isOpen) tell({ kind: "resumed", revision: next.fromRevision ?? lastRevision ?? 0 });
                else {
                  isOpen = true;
                  tell({ kind: "connected", revision: revisionOf(message) });
                  opened(undefined);
                }
              }
              return handleMessage(message);
            },
            end: finish,
          });
        } catch (error) {
          finish(error);
        }
      });
      if (isClosed()) return;
      const failure =
        outcome === undefined
          ? // The server has no reason to end a watch with OK; read it like a shutdown.
            new StateError("unavailable", "the server ended the watch stream")
          : stateErrorFromConnectError(outcome, {
              subject: `watch ${describeIdentifiers(request.identifiers)}`,
            });
      if (!isOpen) {
        end(failure);
        opened(failure);
        return;
      }
      if (!isRetryableWatchError(failure)) {
        end(failure);
        return;
      }
      if (!heard) failures++;
      if (failures >= reconnect.maxFailures) {
        const gaveUp = new StateError(
          "unavailable",
          `watch ${describeIdentifiers(request.identifiers)} gave up after ${failures} failed reconnects in a row: ${failure.rawMessage}`,
          { cause: failure },
        );
        tell({ kind: "gave_up", error: gaveUp });
        end(gaveUp);
        return;
      }
      state = "reconnecting";
      const delayMs = reconnectDelay(failures + 1, reconnect);
      tell({ kind: "reconnecting", attempt: failures + 1, delayMs, error: failure });
      await sleep(delayMs, stop.signal);
      if (isClosed()) return;
      reconnects++;
    }
  }

  return new Promise<StreamWatchHandle>((resolve, reject) => {
    const opened = (error: StateError | undefined) => {
      if (error === undefined) resolve(handle);
      else reject(error);
    };
    run(opened).then(
      () => {
        // A close() before the first message: the caller gets a closed watch rather than a hang.
        if (isClosed()) resolve(handle);
      },
      (error: unknown) => {
        const failure = stateErrorFromConnectError(error);
        end(failure);
        reject(failure);
      },
    );
  });
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
