import {
  assertFromRevision,
  describe,
  StateError,
  type Variable,
  type WatchEvent,
  type Watcher,
  type WatchHandle,
  type WatchOptions,
} from "@statebridge/state-provider";
import type { RevisionHistory } from "@statebridge/state-provider/change-feed";
import { checkIterable, notFound } from "./input-checks.js";
import { createWatchEvent, type RevisionRecord, type WatchHub } from "./watch-hub.js";

/** What opening a watch reads of an open LocalState, at the moment it opens. */
export interface WatchedState {
  /** The session's current revision. */
  readonly revision: number;
  readonly history: RevisionHistory<RevisionRecord>;
  readonly variablesById: ReadonlyMap<string, Variable>;
  readonly hub: WatchHub;
  /** The variable named or identified by `identifier`, if any. */
  find(identifier: string): Variable | undefined;
}

/**
 * Opens a watch (see `StateProvider.watch`): checks the request, resolves its identifiers (a
 * resume may name variables deleted since), and registers it with the hub together with its
 * initial, resync or replayed events, all in one synchronous step.
 *
 * @throws `invalid_value` for a malformed request, `not_found` for an unknown identifier.
 */
export function openWatch(
  state: WatchedState,
  identifiers: Iterable<string>,
  watcher: Watcher,
  watchOptions: WatchOptions | undefined,
): WatchHandle {
  checkIterable(identifiers, "watch");
  if (typeof watcher !== "function") {
    throw new StateError("invalid_value", `a watcher must be a function, got ${describe(watcher)}`);
  }
  const filter = watchOptions?.filter;
  if (filter !== undefined && typeof filter !== "function") {
    throw new StateError("invalid_value", `filter must be a function, got ${describe(filter)}`);
  }
  const fromRevision = assertFromRevision(watchOptions?.fromRevision);
  const { revision, history, variablesById } = state;
  const named = new Set<string>();
  const identifierById = new Map<string, string>();
  const missing: string[] = [];
  for (const identifier of identifiers) {
    if (typeof identifier !== "string") {
      throw new StateError(
        "invalid_value",
        `a watched identifier must be a string, got ${describe(identifier)}`,
      );
    }
    const variable = state.find(identifier);
    if (variable === undefined && fromRevision === undefined) throw notFound(identifier);
    if (named.has(identifier)) continue;
    named.add(identifier);
    if (variable === undefined) missing.push(identifier);
    else if (!identifierById.has(variable.id)) identifierById.set(variable.id, identifier);
  }
  if (named.size === 0) throw new StateError("invalid_value", "watch needs at least one identifier");
  if (missing.length > 0) {
    // A resumed watch may name variables deleted since (a client resumes by the ids it
    // followed): the deletion is replayed if it came after fromRevision.
    const unmatched = new Set(missing);
    if (fromRevision !== undefined && fromRevision >= history.base && fromRevision <= revision) {
      history.forEachAfter(fromRevision, (entry) => {
        for (const { kind, variable } of entry.changes) {
          if (kind !== "deleted" || identifierById.has(variable.id)) continue;
          const identifier = unmatched.has(variable.id) ? variable.id : variable.name;
          if (!unmatched.delete(identifier)) continue;
          identifierById.set(variable.id, identifier);
        }
      });
    }
    if (identifierById.size === 0) throw notFound(missing[0] as string);
  }

  // Everything below runs in one synchronous step, so no change can fall between the
  // starting events and the live ones.
  const startingEvents: WatchEvent[] = [];
  let startRevision = revision;
  if (fromRevision !== undefined) {
    startRevision = fromRevision;
    if (fromRevision < history.base || fromRevision > revision) {
      // The history does not reach back (or the watcher saw revisions this session never
      // had): current values, explicitly marked, rather than a silent gap.
      pushSnapshots(startingEvents, "resync", identifierById, variablesById, revision);
    } else {
      history.forEachAfter(fromRevision, (entry) => {
        for (const change of entry.changes) {
          const identifier = identifierById.get(change.variable.id);
          if (identifier === undefined) continue;
          startingEvents.push(
            createWatchEvent(
              change.kind,
              identifier,
              change.variable,
              change.oldValue,
              entry.revision,
              change.source,
              change.timestamp,
            ),
          );
        }
      });
    }
  } else if (watchOptions?.includeInitial === true) {
    startRevision = 0;
    pushSnapshots(startingEvents, "initial", identifierById, variablesById, revision);
  }
  return state.hub.open({
    identifiers: [...named],
    identifierById,
    watcher,
    filter,
    signal: watchOptions?.signal,
    startRevision,
    startingEvents,
  });
}

/** Appends an `initial` or `resync` event per watched variable: its current value. */
function pushSnapshots(
  events: WatchEvent[],
  type: "initial" | "resync",
  identifierById: ReadonlyMap<string, string>,
  variablesById: ReadonlyMap<string, Variable>,
  revision: number,
): void {
  for (const [id, identifier] of identifierById) {
    const variable = variablesById.get(id) as Variable;
    events.push(
      createWatchEvent(type, identifier, variable, undefined, revision, variable.source, variable.updatedAt),
    );
  }
}
