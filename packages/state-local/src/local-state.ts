import {
  assertExpectedVersion,
  assertIdentifierLength,
  assertVariableName,
  assertVariableType,
  type Capabilities,
  compileGlob,
  createExport,
  createVariableId,
  describe,
  type ExportDocument,
  entriesOf,
  freezeVariable,
  isStateError,
  type Metadata,
  mergeMetadata,
  nextVariableVersion,
  normalizeMetadata,
  normalizeValue,
  parseExport,
  type RegisteredVariable,
  type RegisterOptions,
  type SetOptions,
  StateError,
  type StateErrorFailure,
  type StateProvider,
  traceOperations,
  type UpdateManyOptions,
  type UpdateManyResult,
  type Updates,
  type Variable,
  type VariableType,
  type VariableValue,
  validateConstraints,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
  type WatchOptions,
} from "@statebridge/state-provider";
import { createRevisionHistory } from "@statebridge/state-provider/change-feed";
import { checkIterable, notFound } from "./input-checks.js";
import { type LocalStateOptions, resolveLocalStateOptions } from "./local-state-options.js";
import { openWatch } from "./open-watch.js";
import { type Change, createWatchHub, type RevisionRecord } from "./watch-hub.js";

const CAPABILITIES: Capabilities = Object.freeze({
  atomicUpdates: true,
  compareAndSet: true,
  watch: true,
  persistence: false,
  distribution: false,
  linearizableReads: true,
});

const NO_CHANGES: readonly Change[] = Object.freeze([]);

/**
 * Creates a LocalState: a {@link StateProvider} for one session that lives in this process. No
 * serialization, no network, no timers: a read is a map lookup. Every input is validated by the
 * shared type system of `@statebridge/state-provider`, so LocalState refuses exactly what the
 * bridge refuses, with the same codes.
 *
 * Variables are frozen and replaced on every write, so a variable or value read earlier never
 * changes. Watchers are called from a microtask after the mutation that concerns them, never
 * from inside it.
 *
 * @throws `invalid_value` (synchronously) for malformed options.
 */
export function createLocalState(options: LocalStateOptions = {}): StateProvider {
  const { sessionId, source, historySize, now } = resolveLocalStateOptions(options);

  const variablesById = new Map<string, Variable>();
  const idsByName = new Map<string, string>();
  let revision = 0;
  let sessionMetadata: Metadata = normalizeMetadata(undefined);
  let closed = false;
  const history = createRevisionHistory<RevisionRecord>({ capacity: historySize });
  const hub = createWatchHub(now, () => revision);

  /** @throws `invalid_value` for an identifier no variable could have: over the length limit. */
  function find(identifier: string): Variable | undefined {
    assertIdentifierLength(identifier, "a variable identifier");
    const id = idsByName.get(identifier);
    return variablesById.get(id === undefined ? identifier : id);
  }

  function closedError(): StateError {
    return new StateError("closed", `the LocalState of session ${sessionId} is closed`);
  }

  function ensureOpen(): void {
    if (closed) throw closedError();
  }

  function commit(changes: readonly Change[]): number {
    revision++;
    const record: RevisionRecord = { revision, changes };
    history.push(record);
    hub.publish(record);
    return revision;
  }

  async function register(
    name: string,
    type: VariableType,
    initial: unknown,
    registerOptions?: RegisterOptions,
  ): Promise<RegisteredVariable> {
    ensureOpen();
    const settings = registerOptions ?? {};
    const checkedName = assertVariableName(name);
    const checkedType = assertVariableType(type);
    const existing = idsByName.get(checkedName);
    if (existing !== undefined) {
      throw new StateError(
        "already_exists",
        `a variable named ${JSON.stringify(checkedName)} already exists (id ${existing})`,
      );
    }
    const constraints = validateConstraints(checkedType, settings.constraints);
    let metadata = normalizeMetadata(settings.metadata);
    if (settings.description !== undefined) {
      if (typeof settings.description !== "string") {
        throw new StateError(
          "invalid_value",
          `description must be a string, got ${describe(settings.description)}`,
        );
      }
      metadata = mergeMetadata(metadata, normalizeMetadata({ description: settings.description }));
    }
    const value = normalizeValue(checkedType, initial, constraints, checkedName);
    let id = createVariableId();
    while (variablesById.has(id)) id = createVariableId();
    const timestamp = now();
    const variable = freezeVariable(
      id,
      checkedName,
      checkedType,
      value,
      constraints,
      metadata,
      0,
      timestamp,
      timestamp,
      source,
    );
    variablesById.set(id, variable);
    idsByName.set(checkedName, id);
    const registeredAt = commit(NO_CHANGES);
    return { id, name: checkedName, type: checkedType, version: 0, revision: registeredAt };
  }

  function get(identifier: string): Promise<VariableValue> {
    if (closed) return Promise.reject(closedError());
    let variable: Variable | undefined;
    try {
      variable = find(identifier);
    } catch (error) {
      return Promise.reject(error);
    }
    if (variable === undefined) return Promise.reject(notFound(identifier));
    return Promise.resolve(variable.value);
  }

  function getVariable(identifier: string): Promise<Variable> {
    if (closed) return Promise.reject(closedError());
    let variable: Variable | undefined;
    try {
      variable = find(identifier);
    } catch (error) {
      return Promise.reject(error);
    }
    if (variable === undefined) return Promise.reject(notFound(identifier));
    return Promise.resolve(variable);
  }

  async function set(identifier: string, value: unknown, setOptions?: SetOptions): Promise<number> {
    ensureOpen();
    const current = find(identifier);
    if (current === undefined) throw notFound(identifier);
    const expectedVersion = setOptions?.expectedVersion;
    if (expectedVersion !== undefined) assertExpectedVersion(expectedVersion);
    const metadataUpdate =
      setOptions?.metadata === undefined ? undefined : normalizeMetadata(setOptions.metadata);
    if (expectedVersion !== undefined && expectedVersion !== current.version) {
      throw new StateError(
        "version_conflict",
        `${JSON.stringify(current.name)} is at version ${current.version}, not the expected ${expectedVersion}`,
      );
    }
    const normalized = normalizeValue(current.type, value, current.constraints, current.name);
    const timestamp = now();
    const next = replaceValue(current, normalized, metadataUpdate, timestamp);
    commit([{ kind: "value_change", variable: next, oldValue: current.value, source, timestamp }]);
    return next.version;
  }

  function replaceValue(
    current: Variable,
    value: VariableValue,
    metadataUpdate: Metadata | undefined,
    timestamp: number,
  ): Variable {
    const next = nextVariableVersion(
      current,
      value,
      mergeMetadata(current.metadata, metadataUpdate),
      timestamp,
      source,
    );
    variablesById.set(current.id, next);
    return next;
  }

  function getMany(identifiers: Iterable<string>): Promise<Map<string, VariableValue>> {
    if (closed) return Promise.reject(closedError());
    try {
      checkIterable(identifiers, "getMany");
      const values = new Map<string, VariableValue>();
      for (const identifier of identifiers) {
        const variable = find(identifier);
        if (variable !== undefined) values.set(identifier, variable.value);
      }
      return Promise.resolve(values);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async function updateMany(updates: Updates, updateOptions?: UpdateManyOptions): Promise<UpdateManyResult> {
    ensureOpen();
    const entries = entriesOf(updates);
    const metadataUpdate =
      updateOptions?.metadata === undefined ? undefined : normalizeMetadata(updateOptions.metadata);
    const atomic = updateOptions?.atomic === true;
    const planned: { identifier: string; current: Variable; value: VariableValue }[] = [];
    const failures = new Map<string, StateErrorFailure>();
    const identifierOfId = new Map<string, string>();
    for (const [identifier, raw] of entries) {
      // Refuses the whole batch: such an identifier is a malformed request, not a failed update.
      assertIdentifierLength(identifier, "a variable identifier");
      try {
        const current = typeof identifier === "string" ? find(identifier) : undefined;
        if (current === undefined) throw notFound(identifier);
        const earlier = identifierOfId.get(current.id);
        if (earlier !== undefined) {
          throw new StateError(
            "invalid_value",
            `${JSON.stringify(identifier)} names the same variable as ${JSON.stringify(earlier)} earlier in this batch`,
          );
        }
        identifierOfId.set(current.id, identifier as string);
        const value = normalizeValue(current.type, raw, current.constraints, current.name);
        planned.push({ identifier: identifier as string, current, value });
      } catch (error) {
        if (atomic || !isStateError(error)) throw error;
        failures.set(identifier as string, { code: error.code, message: error.rawMessage });
      }
    }
    const versions = new Map<string, number>();
    let batchRevision = revision;
    if (planned.length > 0) {
      const timestamp = now();
      const changes: Change[] = [];
      for (const { identifier, current, value } of planned) {
        const next = replaceValue(current, value, metadataUpdate, timestamp);
        versions.set(identifier, next.version);
        changes.push({ kind: "value_change", variable: next, oldValue: current.value, source, timestamp });
      }
      batchRevision = commit(changes);
    }
    if (failures.size > 0) {
      const listed = [...failures]
        .slice(0, 5)
        .map(([identifier, failure]) => `${JSON.stringify(identifier)}: ${failure.code}`);
      throw new StateError(
        "partial_failure",
        `${failures.size} of ${failures.size + planned.length} updates failed (${listed.join(", ")}${failures.size > 5 ? ", ..." : ""}); the other ${planned.length} were applied`,
        { failures, applied: versions },
      );
    }
    return { revision: batchRevision, versions };
  }

  async function list(pattern?: string): Promise<Variable[]> {
    ensureOpen();
    if (pattern === undefined) return [...variablesById.values()];
    const matches = compileGlob(pattern);
    const result: Variable[] = [];
    for (const variable of variablesById.values()) if (matches(variable.name)) result.push(variable);
    return result;
  }

  async function deleteVariable(identifier: string): Promise<void> {
    ensureOpen();
    const current = find(identifier);
    if (current === undefined) throw notFound(identifier);
    variablesById.delete(current.id);
    idsByName.delete(current.name);
    commit([{ kind: "deleted", variable: current, oldValue: current.value, source, timestamp: now() }]);
  }

  async function exportSession(): Promise<ExportDocument> {
    ensureOpen();
    return createExport({
      sessionId,
      revision,
      metadata: sessionMetadata,
      variables: variablesById.values(),
    });
  }

  async function importSession(document: unknown): Promise<void> {
    ensureOpen();
    const parsed = parseExport(document);
    for (const variable of parsed.variables) {
      if (variablesById.has(variable.id)) {
        throw new StateError(
          "already_exists",
          `cannot import ${JSON.stringify(variable.name)}: a variable with id ${variable.id} is already present`,
        );
      }
      const existing = idsByName.get(variable.name);
      if (existing !== undefined) {
        throw new StateError(
          "already_exists",
          `cannot import ${JSON.stringify(variable.name)}: a variable of that name is already present (id ${existing})`,
        );
      }
    }
    const wasEmpty = variablesById.size === 0;
    for (const variable of parsed.variables) {
      variablesById.set(variable.id, variable);
      idsByName.set(variable.name, variable.id);
    }
    if (wasEmpty) {
      // The session takes the document's revision (never going backwards), and its history
      // starts there: a watcher resuming from before it gets a resync, not a silent gap.
      revision = Math.max(revision, parsed.revision);
      history.reset(revision);
      sessionMetadata = parsed.metadata;
    } else {
      revision = Math.max(revision, parsed.revision);
      sessionMetadata = mergeMetadata(sessionMetadata, parsed.metadata);
      commit(NO_CHANGES);
    }
  }

  async function watch(
    identifiers: Iterable<string>,
    watcher: Watcher,
    watchOptions?: WatchOptions,
  ): Promise<WatchHandle> {
    ensureOpen();
    return openWatch({ revision, history, variablesById, hub, find }, identifiers, watcher, watchOptions);
  }

  function listWatchers(): WatchInfo[] {
    return closed ? [] : hub.list();
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    hub.closeAll();
    variablesById.clear();
    idsByName.clear();
    history.reset(revision);
  }

  const provider: StateProvider = {
    sessionId,
    capabilities: CAPABILITIES,
    requiresBridge: false,
    register,
    get,
    getVariable,
    set,
    getMany,
    updateMany,
    list,
    delete: deleteVariable,
    export: exportSession,
    import: importSession,
    watch,
    listWatchers,
    close,
  };
  return traceOperations(provider, "local");
}
