import {
  assertExpectedVersion,
  assertIdentifierLength,
  assertVariableName,
  assertVariableType,
  compileGlob,
  createVariableId,
  describe,
  freezeVariable,
  type Metadata,
  mergeMetadata,
  nextVariableVersion,
  normalizeMetadata,
  normalizeValue,
  StateError,
  type StateErrorFailure,
  type Variable,
  type VariableType,
  type VariableValue,
  validateConstraints,
} from "@statebridge/state-provider";
import { partialFailure } from "./batch-failure.js";
import type { VariableChange } from "./change-record.js";
import type { SessionState, SessionStateOptions } from "./session-state-types.js";
import { decodeBatch, decodeValue } from "./value-decoder.js";
import { jsonByteLength, RECORD_OVERHEAD_BYTES } from "./value-size.js";
import { checkValueSize, fixedBytesOf, type VariableSize } from "./variable-size.js";

/** A validated write of one variable, not applied yet. */
interface PlannedWrite {
  readonly variable: Variable;
  readonly value: VariableValue;
  readonly valueBytes: number;
  readonly metadata: Metadata;
  readonly metadataBytes: number;
  /** What the write adds to the bytes held (negative when it frees some). */
  readonly delta: number;
}

/** Creates the empty variable storage of one session at revision 0. */
export function createSessionState(options: SessionStateOptions): SessionState {
  const { sessionId, now, maxVariables, maxValueBytes, budget, onCommit } = options;
  const byId = new Map<string, Variable>();
  const idByName = new Map<string, string>();
  const sizes = new Map<string, VariableSize>();
  let bytes = 0;
  let revision = 0;

  function find(identifier: string): Variable | undefined {
    if (typeof identifier !== "string") return undefined;
    assertIdentifierLength(identifier, "a variable identifier");
    const variable = byId.get(identifier);
    if (variable !== undefined) return variable;
    const id = idByName.get(identifier);
    return id === undefined ? undefined : byId.get(id);
  }

  function notFound(identifier: string): StateError {
    const shown = typeof identifier === "string" ? JSON.stringify(identifier) : describe(identifier);
    return new StateError("not_found", `variable ${shown} not found in session ${JSON.stringify(sessionId)}`);
  }

  function require(identifier: string): Variable {
    const variable = find(identifier);
    if (variable === undefined) throw notFound(identifier);
    return variable;
  }

  /** @returns the value's size. @throws `resource_exhausted` above `maxValueBytes`. */
  function checkSize(name: string, type: VariableType, value: VariableValue): number {
    return checkValueSize(name, type, value, maxValueBytes);
  }

  /** Validates a new value and metadata for a variable; nothing is applied yet. */
  function plan(variable: Variable, raw: unknown, metadataUpdate: Metadata | undefined): PlannedWrite {
    const value = normalizeValue(variable.type, raw, variable.constraints, variable.name);
    const valueBytes = checkSize(variable.name, variable.type, value);
    const size = sizes.get(variable.id) as VariableSize;
    const metadata = mergeMetadata(variable.metadata, metadataUpdate);
    const metadataBytes = metadata === variable.metadata ? size.metadata : jsonByteLength(metadata);
    const delta = valueBytes + metadataBytes - size.value - size.metadata;
    return { variable, value, valueBytes, metadata, metadataBytes, delta };
  }

  /** Applies a planned write whose bytes the budget has already given. */
  function write(
    planned: PlannedWrite,
    source: string,
    timestamp: number,
  ): { readonly updated: Variable; readonly change: VariableChange } {
    const { variable, value, metadata } = planned;
    const size = sizes.get(variable.id) as VariableSize;
    const oldValueBytes = size.value;
    size.value = planned.valueBytes;
    size.metadata = planned.metadataBytes;
    bytes += planned.delta;
    const updated = nextVariableVersion(variable, value, metadata, timestamp, source);
    byId.set(variable.id, updated);
    return {
      updated,
      change: {
        kind: "value_change",
        id: variable.id,
        name: variable.name,
        variableType: variable.type,
        oldValue: variable.value,
        newValue: value,
        version: updated.version,
        source,
        metadata: updated.metadata,
        timestamp,
        bytes: oldValueBytes + planned.valueBytes + planned.metadataBytes + RECORD_OVERHEAD_BYTES,
      },
    };
  }

  return {
    get revision() {
      return revision;
    },
    get size() {
      return byId.size;
    },
    get bytes() {
      return bytes;
    },
    bytesOf(id) {
      const size = sizes.get(id);
      return size === undefined ? 0 : size.value + size.metadata;
    },
    find,
    require,
    variables() {
      return byId.values();
    },

    register(name, type, initial, registerOptions) {
      const checkedName = assertVariableName(name);
      const checkedType = assertVariableType(type);
      if (idByName.has(checkedName)) {
        throw new StateError(
          "already_exists",
          `variable ${JSON.stringify(checkedName)} already exists in session ${JSON.stringify(sessionId)}`,
        );
      }
      const constraints = validateConstraints(checkedType, registerOptions.constraints);
      let metadata = normalizeMetadata(registerOptions.metadata);
      const { description } = registerOptions;
      if (description !== undefined) {
        if (typeof description !== "string") {
          throw new StateError("invalid_value", `description must be a string, got ${describe(description)}`);
        }
        metadata = mergeMetadata(metadata, normalizeMetadata({ description }));
      }
      const value = normalizeValue(checkedType, initial, constraints, checkedName);
      const valueBytes = checkSize(checkedName, checkedType, value);
      if (byId.size >= maxVariables) {
        throw new StateError(
          "resource_exhausted",
          `session ${JSON.stringify(sessionId)} holds ${byId.size} variables, the most allowed; ` +
            `cannot register ${JSON.stringify(checkedName)}`,
        );
      }
      const size: VariableSize = {
        fixed: fixedBytesOf(checkedName, constraints),
        value: valueBytes,
        metadata: jsonByteLength(metadata),
      };
      const held = size.fixed + size.value + size.metadata;
      budget.take(held, () => `registering ${JSON.stringify(checkedName)}`);
      let id = createVariableId();
      while (byId.has(id)) id = createVariableId();
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
        registerOptions.source,
      );
      byId.set(id, variable);
      idByName.set(checkedName, id);
      sizes.set(id, size);
      bytes += held;
      revision++;
      return { variable, revision };
    },

    set(identifier, given, setOptions) {
      const variable = require(identifier);
      const raw = decodeValue(given, variable.type);
      const expectedVersion =
        setOptions.expectedVersion === undefined
          ? undefined
          : assertExpectedVersion(setOptions.expectedVersion);
      const metadata = setOptions.metadata === undefined ? undefined : normalizeMetadata(setOptions.metadata);
      if (expectedVersion !== undefined && expectedVersion !== variable.version) {
        throw new StateError(
          "version_conflict",
          `${JSON.stringify(variable.name)} is at version ${variable.version}, expected ${expectedVersion}`,
        );
      }
      const planned = plan(variable, raw, metadata);
      budget.take(planned.delta, () => `writing ${JSON.stringify(variable.name)}`);
      const { updated, change } = write(planned, setOptions.source, now());
      revision++;
      onCommit({ revision, changes: [change], bytes: change.bytes });
      return { version: updated.version, revision };
    },

    updateMany(updates, batchOptions) {
      const metadata =
        batchOptions.metadata === undefined ? undefined : normalizeMetadata(batchOptions.metadata);
      const accepted: { identifier: string; planned: PlannedWrite }[] = [];
      let delta = 0;
      const targeted = new Map<string, string>();
      const failures = new Map<string, StateErrorFailure>();
      let firstError: StateError | undefined;
      const entries = [...updates];
      const decoded = decodeBatch(
        entries,
        (index) => find((entries[index] as readonly [string, unknown])[0])?.type,
        batchOptions.atomic,
        notFound,
      );
      for (const [index, [identifier]] of entries.entries()) {
        // Refuses the whole batch: such an identifier is a malformed request, not a failed update.
        assertIdentifierLength(identifier, "a variable identifier");
        const raw = decoded.values[index];
        try {
          const decodeFailure = decoded.failures.get(index);
          if (decodeFailure !== undefined) throw decodeFailure;
          const variable = require(identifier);
          const earlier = targeted.get(variable.id);
          if (earlier !== undefined) {
            throw new StateError(
              "invalid_value",
              `${JSON.stringify(identifier)} and ${JSON.stringify(earlier)} name the same variable in one batch`,
            );
          }
          targeted.set(variable.id, identifier);
          const planned = plan(variable, raw, metadata);
          if (!budget.fits(delta + planned.delta)) {
            throw budget.exhausted(delta + planned.delta, `the batch, at ${JSON.stringify(variable.name)},`);
          }
          delta += planned.delta;
          accepted.push({ identifier, planned });
        } catch (error) {
          if (!(error instanceof StateError)) throw error;
          if (batchOptions.atomic) throw error;
          firstError ??= error;
          failures.set(String(identifier), { code: error.code, message: error.rawMessage });
        }
      }
      const versions = new Map<string, number>();
      if (accepted.length > 0) {
        budget.take(delta, () => "the batch");
        const timestamp = now();
        const changes: VariableChange[] = [];
        let recordBytes = 0;
        for (const { identifier, planned } of accepted) {
          const { updated, change } = write(planned, batchOptions.source, timestamp);
          versions.set(identifier, updated.version);
          changes.push(change);
          recordBytes += change.bytes;
        }
        revision++;
        onCommit({ revision, changes, bytes: recordBytes });
      }
      if (failures.size > 0) throw partialFailure(failures, accepted.length, revision, versions, firstError);
      return { revision, versions };
    },

    list(pattern) {
      const result: Variable[] = [];
      if (pattern === undefined) {
        for (const variable of byId.values()) result.push(variable);
        return result;
      }
      const matches = compileGlob(pattern);
      for (const variable of byId.values()) if (matches(variable.name)) result.push(variable);
      return result;
    },

    delete(identifier, deleteOptions) {
      const variable = require(identifier);
      const size = sizes.get(variable.id) as VariableSize;
      const held = size.fixed + size.value + size.metadata;
      const changeBytes = size.value + size.metadata + RECORD_OVERHEAD_BYTES;
      byId.delete(variable.id);
      idByName.delete(variable.name);
      sizes.delete(variable.id);
      bytes -= held;
      budget.give(held);
      revision++;
      onCommit({
        revision,
        bytes: changeBytes,
        changes: [
          {
            kind: "deleted",
            id: variable.id,
            name: variable.name,
            variableType: variable.type,
            oldValue: variable.value,
            newValue: undefined,
            version: variable.version,
            source: deleteOptions.source,
            metadata: variable.metadata,
            timestamp: now(),
            bytes: changeBytes,
          },
        ],
      });
      return { revision };
    },

    import(parsed) {
      const imported: VariableSize[] = [];
      let held = 0;
      for (const variable of parsed.variables) {
        if (byId.has(variable.id)) {
          throw new StateError(
            "already_exists",
            `variable id ${variable.id} (${JSON.stringify(variable.name)}) already exists in session ${JSON.stringify(sessionId)}`,
          );
        }
        if (idByName.has(variable.name)) {
          throw new StateError(
            "already_exists",
            `variable ${JSON.stringify(variable.name)} already exists in session ${JSON.stringify(sessionId)}`,
          );
        }
        const size: VariableSize = {
          fixed: fixedBytesOf(variable.name, variable.constraints),
          value: checkSize(variable.name, variable.type, variable.value),
          metadata: jsonByteLength(variable.metadata),
        };
        imported.push(size);
        held += size.fixed + size.value + size.metadata;
      }
      if (byId.size + parsed.variables.length > maxVariables) {
        throw new StateError(
          "resource_exhausted",
          `importing ${parsed.variables.length} variables into session ${JSON.stringify(sessionId)}, ` +
            `which holds ${byId.size}, would exceed the limit of ${maxVariables}`,
        );
      }
      budget.take(
        held,
        () => `importing ${parsed.variables.length} variables into session ${JSON.stringify(sessionId)}`,
      );
      bytes += held;
      const adopted = byId.size === 0;
      parsed.variables.forEach((variable, index) => {
        byId.set(variable.id, variable);
        idByName.set(variable.name, variable.id);
        sizes.set(variable.id, imported[index] as VariableSize);
      });
      revision = adopted ? Math.max(revision, parsed.revision) : Math.max(revision, parsed.revision) + 1;
      return { revision, imported: parsed.variables.length, adopted };
    },

    clear() {
      byId.clear();
      idByName.clear();
      sizes.clear();
      budget.give(bytes);
      bytes = 0;
    },
  };
}
