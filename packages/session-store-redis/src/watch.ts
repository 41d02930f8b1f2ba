import {
  jsonByteLength,
  RECORD_OVERHEAD_BYTES,
  snapshotEvent,
  valueByteLength,
  type WatchEventBatch,
  type WatchListener,
  type WatchSubscription,
} from "@statebridge/session-store";
import {
  assertFromRevision,
  describe,
  StateError,
  type Variable,
  type WatchEvent,
  type WatchEventType,
} from "@statebridge/state-provider";
import { decodeHeader, decodeVariable } from "./codec.js";
import { checkIdentifier, notFoundError, type StoreContext } from "./context.js";
import type { Feed } from "./feed.js";
import { parseLogEntry, rawChanges } from "./log-entry.js";

/** Options of a watch, as {@link SessionStore.watch} takes them. */
export interface WatchOptions {
  readonly includeInitial?: boolean;
  readonly fromRevision?: number;
  readonly incarnation?: string;
}

/**
 * Starts a watch: reads the session and the watched variables in one script call (so the
 * snapshot and its revision agree), hands initial or resync events to the listener, then joins
 * the feed at that revision; a resume joins it at `fromRevision` and the feed replays the log
 * from there. Checks and messages follow the in-memory store.
 */
export async function startWatch(
  context: StoreContext,
  feed: Feed,
  sessionId: string,
  identifiers: readonly string[],
  listener: WatchListener,
  options: WatchOptions,
  onLastClosed: () => void,
): Promise<WatchSubscription> {
  const valid = Array.isArray(identifiers) && identifiers.length > 0;
  const strings = valid ? (identifiers as readonly unknown[]).filter((item) => typeof item === "string") : [];
  for (const identifier of strings) checkIdentifier(identifier);
  const session = await context.read(sessionId, strings.length > 0 ? "ids" : "none", strings as string[]);
  if (!valid) throw new StateError("invalid_value", "watch needs at least one identifier");
  const { fromRevision, includeInitial, incarnation } = options;
  if (incarnation !== undefined && incarnation !== "" && incarnation !== session.epoch) {
    throw new StateError(
      "session_expired",
      `session ${JSON.stringify(sessionId)} was recreated (incarnation ${session.epoch}, ` +
        `the watch followed ${String(incarnation).slice(0, 32)}): the session it watched ended, and ` +
        "this one's history is not its history",
    );
  }
  assertFromRevision(fromRevision);
  const current = session.info.revision;
  const replay = fromRevision !== undefined && fromRevision >= session.base && fromRevision <= current;
  const targets = new Map<string, string>();
  const found = new Map<string, Variable>();
  const missing: string[] = [];
  const foundIdOf = new Map<string, string>();
  let stringIndex = 0;
  for (const identifier of identifiers as readonly unknown[]) {
    if (typeof identifier !== "string") {
      throw new StateError(
        "invalid_value",
        `a watched identifier must be a string, got ${describe(identifier)}`,
      );
    }
    const stored = session.variables[stringIndex++];
    if (stored !== undefined) {
      foundIdOf.set(identifier, stored.id);
      if (!targets.has(stored.id)) targets.set(stored.id, identifier);
      if (!found.has(stored.id)) found.set(stored.id, decodeVariable(stored));
    } else if (fromRevision === undefined) {
      throw notFoundError(sessionId, identifier);
    } else {
      missing.push(identifier);
    }
  }
  // A resumed watch may name variables deleted since: their deletion is replayed if it came
  // after fromRevision; otherwise the watcher has had it already (or resyncs).
  const replayTargets = new Map(targets);
  if (missing.length > 0) {
    if (replay) await addDeleted(context, sessionId, fromRevision as number, missing, replayTargets);
    if (replayTargets.size === 0) throw notFoundError(sessionId, missing[0]);
  }
  if (feed.watchers(sessionId) >= context.limits.maxWatchers) {
    throw new StateError(
      "resource_exhausted",
      `session ${JSON.stringify(sessionId)} has ${feed.watchers(sessionId)} watchers on this server, the most allowed`,
    );
  }
  let position = current;
  if (replay) position = fromRevision as number;
  else if (fromRevision !== undefined) listener.onEvents(snapshot(found, targets, "resync", current));
  else if (includeInitial === true) listener.onEvents(snapshot(found, targets, "initial", current));
  const watch = feed.add(
    sessionId,
    context.keys(sessionId),
    session.epoch,
    replay ? replayTargets : targets,
    listener,
    position,
    session.info.ttlSeconds * 1000,
    onLastClosed,
  );
  const idOf = new Map<string, string>();
  for (const [id, identifier] of replayTargets) if (!idOf.has(identifier)) idOf.set(identifier, id);
  return {
    startRevision: position,
    incarnation: session.epoch,
    ids: identifiers.map((identifier) => idOf.get(identifier) ?? foundIdOf.get(identifier) ?? ""),
    currentRevision: () => watch.currentRevision(),
    close: () => watch.close(),
  };
}

/** Finds, in the log after `fromRevision`, the deletions of missing identifiers (by id or name). */
async function addDeleted(
  context: StoreContext,
  sessionId: string,
  fromRevision: number,
  missing: readonly string[],
  replayTargets: Map<string, string>,
): Promise<void> {
  const unmatched = new Set(missing);
  const reply = (await context.connection.command([
    "XRANGE",
    context.keys(sessionId).log,
    `${fromRevision + 1}-0`,
    "+",
  ])) as readonly unknown[];
  for (const raw of reply ?? []) {
    for (const change of rawChanges(parseLogEntry(raw as never))) {
      if (change.kind !== "deleted" || replayTargets.has(change.id)) continue;
      const { name } = decodeHeader(change.header);
      const identifier = unmatched.has(change.id) ? change.id : unmatched.has(name) ? name : undefined;
      if (identifier === undefined) continue;
      replayTargets.set(change.id, identifier);
      unmatched.delete(identifier);
    }
  }
}

/** The current values of the targets as one batch of `type` events. */
function snapshot(
  found: ReadonlyMap<string, Variable>,
  targets: ReadonlyMap<string, string>,
  type: WatchEventType,
  revision: number,
): WatchEventBatch {
  let bytes = 0;
  const events: WatchEvent[] = [];
  for (const [id, identifier] of targets) {
    const variable = found.get(id) as Variable;
    bytes +=
      valueByteLength(variable.type, variable.value) +
      jsonByteLength(variable.metadata) +
      RECORD_OVERHEAD_BYTES;
    events.push(snapshotEvent(type, identifier, variable, revision));
  }
  return { revision, events, bytes };
}
