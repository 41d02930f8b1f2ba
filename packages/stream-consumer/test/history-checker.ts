import type { WatchEvent } from "@statebridge/state-provider";

/** A variable as the writers registered it. */
export interface VariableRecord {
  readonly name: string;
  readonly id: string;
  readonly initialValue: number;
  /** The revision its registration took. */
  readonly registeredAt: number;
  /** The revision its deletion took; a later variable may take its name. */
  readonly deletedAt?: number;
}

/** One committed write, from the writer's own response: the server's word on what happened. */
export interface WriteRecord {
  readonly writer: string;
  readonly revision: number;
  /** True for an atomic batch; a single set or a non-atomic batch is false. */
  readonly atomic: boolean;
  readonly changes: readonly { readonly name: string; readonly version: number; readonly value: number }[];
}

/** Where a watcher started. */
export type WatchStart =
  /** Opened before any write after `revision`, without initial values. */
  | { readonly kind: "live"; readonly revision: number }
  /** Opened with includeInitial before any write after `revision`: a snapshot at it comes first. */
  | { readonly kind: "initial"; readonly revision: number }
  /** Opened with fromRevision: every change after it (or resync events). */
  | { readonly kind: "from"; readonly revision: number };

/** Everything one watcher saw. */
export interface WatcherRecord {
  readonly label: string;
  /** Watched variable names. */
  readonly names: readonly string[];
  readonly start: WatchStart;
  readonly events: readonly WatchEvent[];
  /** How often its stream was reopened. */
  readonly reconnects: number;
  /**
   * The variable ids its names resolved to when it was opened; by default those the names
   * had at `start.revision`. A watch follows these ids only (the README's Guarantees).
   */
  readonly ids?: readonly string[];
  /** The error code the watch ended with, if it ended. */
  readonly endedWith?: string;
}

/** What {@link checkHistory} is given. */
export interface HistoryInput {
  readonly variables: readonly VariableRecord[];
  readonly writes: readonly WriteRecord[];
  readonly watchers: readonly WatcherRecord[];
  /** The session's revision after the last write; every watcher must have got that far. */
  readonly finalRevision: number;
  /**
   * The server's history kept every write of the run: a resumed watcher must then get the
   * changes themselves, never a resync.
   */
  readonly historyCoversRun: boolean;
  /**
   * The session was recreated under its id after `finalRevision` (a server restart lost it):
   * every watcher must end with `session_expired` and get nothing of the new session.
   */
  readonly sessionRecreated?: boolean;
}

/** The outcome: an empty `violations` means every guarantee held. */
export interface HistoryReport {
  /**
   * Each broken guarantee, named (Ordered, Unique, Reliable, Atomic, Resumable, Identity,
   * Incarnation) with where.
   */
  readonly violations: readonly string[];
  readonly events: number;
  readonly resyncs: number;
  readonly reconnects: number;
}

interface State {
  readonly revision: number;
  readonly version: number;
  readonly value: number;
}

const MAX_VIOLATIONS_PER_WATCHER = 20;

/**
 * Checks a recorded watch history against the writers' log, for every watcher:
 * - Ordered: revisions never go back; per variable, versions go up.
 * - Unique: no change (variable, revision) is delivered twice.
 * - Reliable: every change after the start is delivered, with the right version, old and
 *   new value; a change may be skipped only if a `resync` of that variable at a later
 *   revision stands for it, and the resync carries the value and version of that revision.
 * - Atomic: the watched members of an atomic batch arrive as events of its one revision,
 *   all of them, next to each other.
 * - Resumable: with a history that covers the run, a reopened stream resumes with the
 *   changes themselves: no `resync` and no `initial` after the start.
 * - Identity: a watch follows the variable ids its names resolved to when it opened; a
 *   variable's deletion arrives as its last event, and nothing of a variable registered
 *   later under the same name ever arrives.
 * - Incarnation: after the session was recreated under its id, every watcher ends with
 *   `session_expired`, never resuming into the new session's history.
 * The writers' log must hold every write of the session after the registrations.
 */
export function checkHistory(input: HistoryInput): HistoryReport {
  const timelines = buildTimelines(input);
  const variablesById = new Map(input.variables.map((variable) => [variable.id, variable]));
  const writesByRevision = new Map(input.writes.map((write) => [write.revision, write]));
  const violations: string[] = [];
  let events = 0;
  let resyncs = 0;
  let reconnects = 0;
  for (const watcher of input.watchers) {
    const found: string[] = [];
    const report = (guarantee: string, message: string) => {
      if (found.length < MAX_VIOLATIONS_PER_WATCHER) found.push(`${guarantee}: ${watcher.label}: ${message}`);
    };
    checkWatcher(watcher, input, timelines, variablesById, writesByRevision, report);
    if (input.sessionRecreated === true && watcher.endedWith !== "session_expired") {
      report(
        "Incarnation",
        `ended with ${watcher.endedWith ?? "nothing"} after the session was recreated, not session_expired`,
      );
    }
    violations.push(...found);
    events += watcher.events.length;
    resyncs += watcher.events.filter((event) => event.type === "resync").length;
    reconnects += watcher.reconnects;
  }
  return { violations, events, resyncs, reconnects };
}

function buildTimelines(input: HistoryInput): Map<string, State[]> {
  const timelines = new Map<string, State[]>();
  for (const variable of input.variables) {
    timelines.set(variable.id, [
      { revision: variable.registeredAt, version: 0, value: variable.initialValue },
    ]);
  }
  const writes = [...input.writes].sort((left, right) => left.revision - right.revision);
  for (const write of writes) {
    for (const change of write.changes) {
      const variable = variableAt(input.variables, change.name, write.revision);
      const timeline = variable === undefined ? undefined : timelines.get(variable.id);
      if (timeline === undefined)
        throw new Error(
          `the writers' log names ${change.name} at r${write.revision}, when no variable had that name`,
        );
      timeline.push({ revision: write.revision, version: change.version, value: change.value });
    }
  }
  return timelines;
}

/** The variable that had `name` at `revision`. */
function variableAt(
  variables: readonly VariableRecord[],
  name: string,
  revision: number,
): VariableRecord | undefined {
  return variables.find(
    (variable) =>
      variable.name === name &&
      variable.registeredAt <= revision &&
      (variable.deletedAt === undefined || revision < variable.deletedAt),
  );
}

/** The state of a variable as of `revision` (its last change at or before it). */
function stateAt(timeline: readonly State[], revision: number): State | undefined {
  let found: State | undefined;
  for (const state of timeline) {
    if (state.revision > revision) break;
    found = state;
  }
  return found;
}

function checkWatcher(
  watcher: WatcherRecord,
  input: HistoryInput,
  timelines: Map<string, State[]>,
  variablesById: Map<string, VariableRecord>,
  writesByRevision: Map<number, WriteRecord>,
  report: (guarantee: string, message: string) => void,
): void {
  const start = watcher.start.revision;
  const followed = new Set(
    watcher.ids ?? watcher.names.flatMap((name) => variableAt(input.variables, name, start)?.id ?? []),
  );
  const describe = (event: WatchEvent, index: number) =>
    `event ${index} (${event.type} ${event.name} v${event.version} r${event.revision})`;

  // Ordered, Unique, Atomic (contiguity) and Identity over the whole sequence.
  const seen = new Set<string>();
  const closedRevisions = new Set<number>();
  const deleted = new Set<string>();
  let lastRevision = Number.NEGATIVE_INFINITY;
  const lastVersion = new Map<string, number>();
  for (const [index, event] of watcher.events.entries()) {
    if (!followed.has(event.id)) {
      report(
        "Identity",
        `${describe(event, index)} is of variable ${event.id}, which the watch did not start with`,
      );
    }
    if (deleted.has(event.id))
      report("Identity", `${describe(event, index)} comes after its variable's deletion`);
    if (event.type === "deleted") deleted.add(event.id);
    if (event.revision < lastRevision) {
      report("Ordered", `${describe(event, index)} comes after revision ${lastRevision}`);
    }
    if (event.revision !== lastRevision) {
      if (closedRevisions.has(event.revision)) {
        report("Atomic", `${describe(event, index)}: revision ${event.revision} was split by other events`);
      }
      if (Number.isFinite(lastRevision)) closedRevisions.add(lastRevision);
      lastRevision = event.revision;
    }
    const key = `${event.id}@${event.revision}`;
    if (seen.has(key)) report("Unique", `${describe(event, index)} was delivered before`);
    seen.add(key);
    const previous = lastVersion.get(event.id);
    if (
      previous !== undefined &&
      (event.type === "deleted" ? event.version < previous : event.version <= previous)
    ) {
      report("Ordered", `${describe(event, index)}: version ${event.version} after version ${previous}`);
    }
    lastVersion.set(event.id, event.version);
  }

  // Reliable, variable by variable, against the writers' log.
  for (const id of followed) {
    const timeline = timelines.get(id);
    const variable = variablesById.get(id);
    if (timeline === undefined || variable === undefined) {
      report("Reliable", `follows ${id}, which the writers never registered`);
      continue;
    }
    const name = variable.name;
    const expected = timeline.filter(
      (state) => state.version > 0 && state.revision > start && state.revision <= input.finalRevision,
    );
    const delivered = watcher.events.filter((event) => event.id === id);
    const deletion =
      variable.deletedAt !== undefined &&
      variable.deletedAt > start &&
      variable.deletedAt <= input.finalRevision
        ? variable.deletedAt
        : undefined;
    let deletionSeen = false;
    let next = 0;
    for (const [position, event] of delivered.entries()) {
      const where = `${name} (${id}) event ${position} (${event.type} v${event.version} r${event.revision})`;
      if (event.type === "deleted") {
        deletionSeen = true;
        if (event.revision !== variable.deletedAt) {
          report("Reliable", `${where}: the variable was deleted at r${variable.deletedAt ?? "never"}`);
        }
        continue;
      }
      if (event.type === "initial") {
        if (watcher.start.kind !== "initial" || position !== 0) {
          report("Resumable", `${where}: an initial event after the start`);
          continue;
        }
        const state = stateAt(timeline, start);
        if (event.revision !== start)
          report("Reliable", `${where}: the snapshot is not at revision ${start}`);
        if (state === undefined || event.newValue !== state.value || event.version !== state.version) {
          report(
            "Reliable",
            `${where}: snapshot value ${String(event.newValue)} v${event.version}, expected ${state?.value} v${state?.version}`,
          );
        }
        continue;
      }
      if (event.type === "resync") {
        if (input.historyCoversRun && watcher.start.kind !== "from") {
          report("Resumable", `${where}: a resync although the history covers the run`);
        }
        const state = stateAt(timeline, event.revision);
        if (state === undefined || event.newValue !== state.value || event.version !== state.version) {
          report(
            "Reliable",
            `${where}: resync value ${String(event.newValue)} v${event.version}, expected ${state?.value} v${state?.version} as of r${event.revision}`,
          );
        }
        // The resync stands for every change of this variable up to its revision.
        while (next < expected.length && (expected[next] as State).revision <= event.revision) next++;
        continue;
      }
      const wanted = expected[next];
      if (wanted === undefined) {
        report("Reliable", `${where}: no such change in the writers' log after the previous one`);
        continue;
      }
      if (event.revision !== wanted.revision) {
        const missed = event.revision > wanted.revision;
        report(
          missed ? "Reliable" : "Unique",
          missed
            ? `${where}: the change at r${wanted.revision} (v${wanted.version}) was skipped`
            : `${where}: expected the change at r${wanted.revision}`,
        );
        // Resynchronize on the delivered revision so that one gap is reported once.
        const index = expected.findIndex((state) => state.revision === event.revision);
        if (index === -1) continue;
        next = index;
      }
      const state = expected[next] as State;
      const before = stateAt(timeline, state.revision - 1);
      if (
        event.version !== state.version ||
        event.newValue !== state.value ||
        event.oldValue !== before?.value
      ) {
        report(
          "Reliable",
          `${where}: ${String(event.oldValue)} → ${String(event.newValue)} v${event.version}, the log says ${before?.value} → ${state.value} v${state.version}`,
        );
      }
      next++;
    }
    if (next < expected.length) {
      const missing = expected.slice(next, next + 5).map((state) => `r${state.revision}`);
      report(
        "Reliable",
        `${name} (${id}): ${expected.length - next} changes never arrived (first: ${missing.join(", ")})`,
      );
    }
    if (deletion !== undefined && !deletionSeen) {
      report("Reliable", `${name} (${id}): its deletion at r${deletion} never arrived`);
    }
  }

  // Atomic: every followed member of an atomic batch arrives at its revision.
  for (const write of writesByRevision.values()) {
    if (!write.atomic || write.revision <= start) continue;
    const members = write.changes
      .map((change) => variableAt(input.variables, change.name, write.revision)?.id ?? "")
      .filter((id) => followed.has(id));
    if (members.length < 2) continue;
    const delivered = watcher.events.filter(
      (event) => event.revision === write.revision && event.type === "value_change",
    );
    const resynced = watcher.events.some(
      (event) => event.type === "resync" && event.revision >= write.revision,
    );
    if (delivered.length === 0 && resynced) continue;
    const ids = delivered.map((event) => event.id).sort();
    if (ids.join(",") !== members.sort().join(",")) {
      report(
        "Atomic",
        `batch r${write.revision} of ${members.join(", ")} arrived as ${ids.join(", ") || "nothing"}`,
      );
    }
  }
}
