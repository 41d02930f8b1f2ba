import {
  assertExpectedVersion,
  assertVariableName,
  assertVariableType,
  compileGlob,
  createVariableId,
  describe,
  type Metadata,
  mergeMetadata,
  normalizeMetadata,
  normalizeValue,
  type ParsedExport,
  StateError,
  type StateErrorFailure,
  type Variable,
  type VariableType,
  type VariableValue,
  validateConstraints,
} from "@statebridge/state-provider";
import type { ChangeRecord, VariableChange } from "./change-record.js";
import { valueByteLength } from "./value-size.js";

/** Options of {@link createSessionState}. */
export interface SessionStateOptions {
  /** The session's id, for messages. */
  readonly sessionId: string;
  /** Wall clock in epoch milliseconds, for timestamps. */
  readonly now: () => number;
  /** Most variables held; more is `resource_exhausted`. */
  readonly maxVariables: number;
  /** Largest value in bytes ({@link valueByteLength}); larger is `resource_exhausted`. */
  readonly maxValueBytes: number;
  /** Told of every committed change to a value, after it is applied, in revision order. */
  readonly onCommit: (record: ChangeRecord) => void;
}

/** What a batch writes: each identifier as given with its raw value. */
export type BatchUpdates = Iterable<readonly [string, unknown]>;

/**
 * The variables of one session and its revision counter. Every single-variable operation is
 * O(1): variables are stored one by one as frozen objects, and a write replaces only the
 * written variable. Every value goes through the shared type system, so this refuses exactly
 * what a LocalState refuses.
 */
export interface SessionState {
  /** The session revision: the number of the last mutation. */
  readonly revision: number;
  /** Variables held. */
  readonly size: number;
  /** A variable by name or id, or `undefined`. */
  find(identifier: string): Variable | undefined;
  /** A variable by name or id. @throws `not_found`. */
  require(identifier: string): Variable;
  /** Every variable, in creation order. */
  variables(): IterableIterator<Variable>;
  register(
    name: unknown,
    type: unknown,
    initial: unknown,
    options: {
      readonly constraints?: unknown;
      readonly metadata?: unknown;
      readonly description?: unknown;
      readonly source: string;
    },
  ): { readonly variable: Variable; readonly revision: number };
  set(
    identifier: string,
    value: unknown,
    options: { readonly metadata?: unknown; readonly expectedVersion?: unknown; readonly source: string },
  ): { readonly version: number; readonly revision: number };
  updateMany(
    updates: BatchUpdates,
    options: { readonly metadata?: unknown; readonly atomic: boolean; readonly source: string },
  ): { readonly revision: number; readonly versions: Map<string, number> };
  list(pattern?: unknown): Variable[];
  delete(identifier: string, options: { readonly source: string }): { readonly revision: number };
  /**
   * Adds every variable of a parsed export, all or nothing, keeping ids and versions. Into an
   * empty session the revision becomes the document's (never lower than the current one);
   * otherwise max(current, document) + 1.
   * @returns the new revision and whether the session was empty (its history starts anew).
   */
  import(parsed: ParsedExport): {
    readonly revision: number;
    readonly imported: number;
    readonly adopted: boolean;
  };
  /** Drops every variable (the session ended). */
  clear(): void;
}

/** Creates the empty variable storage of one session at revision 0. */
export function createSessionState(options: SessionStateOptions): SessionState {
  const { sessionId, now, maxVariables, maxValueBytes, onCommit } = options;
  const byId = new Map<string, Variable>();
  const idByName = new Map<string, string>();
  let revision = 0;

  function find(identifier: string): Variable | undefined {
    if (typeof identifier !== "string") return undefined;
    const variable = byId.get(identifier);
    if (variable !== undefined) return variable;
    const id = idByName.get(identifier);
    return id === undefined ? undefined : byId.get(id);
  }

  function require(identifier: string): Variable {
    const variable = find(identifier);
    if (variable === undefined) {
      const shown = typeof identifier === "string" ? JSON.stringify(identifier) : describe(identifier);
      throw new StateError(
        "not_found",
        `variable ${shown} not found in session ${JSON.stringify(sessionId)}`,
      );
    }
    return variable;
  }

  function checkSize(name: string, type: VariableType, value: VariableValue): void {
    const bytes = valueByteLength(type, value);
    if (bytes > maxValueBytes) {
      throw new StateError(
        "resource_exhausted",
        `${JSON.stringify(name)} is ${bytes} bytes, above the limit of ${maxValueBytes} bytes per value`,
      );
    }
  }

  /** Validates a new value for a variable and returns it normalized. */
  function prepare(variable: Variable, raw: unknown): VariableValue {
    const value = normalizeValue(variable.type, raw, variable.constraints, variable.name);
    checkSize(variable.name, variable.type, value);
    return value;
  }

  function write(
    variable: Variable,
    value: VariableValue,
    metadata: Metadata | undefined,
    source: string,
    timestamp: number,
  ): { readonly updated: Variable; readonly change: VariableChange } {
    const updated: Variable = Object.freeze({
      ...variable,
      value,
      metadata: mergeMetadata(variable.metadata, metadata),
      version: variable.version + 1,
      updatedAt: timestamp,
      source,
    });
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
      checkSize(checkedName, checkedType, value);
      if (byId.size >= maxVariables) {
        throw new StateError(
          "resource_exhausted",
          `session ${JSON.stringify(sessionId)} holds ${byId.size} variables, the most allowed; ` +
            `cannot register ${JSON.stringify(checkedName)}`,
        );
      }
      let id = createVariableId();
      while (byId.has(id)) id = createVariableId();
      const timestamp = now();
      const variable: Variable = Object.freeze({
        id,
        name: checkedName,
        type: checkedType,
        value,
        constraints,
        metadata,
        version: 0,
        createdAt: timestamp,
        updatedAt: timestamp,
        source: registerOptions.source,
      });
      byId.set(id, variable);
      idByName.set(checkedName, id);
      revision++;
      return { variable, revision };
    },

    set(identifier, raw, setOptions) {
      const variable = require(identifier);
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
      const value = prepare(variable, raw);
      const { updated, change } = write(variable, value, metadata, setOptions.source, now());
      revision++;
      onCommit({ revision, changes: [change] });
      return { version: updated.version, revision };
    },

    updateMany(updates, batchOptions) {
      const metadata =
        batchOptions.metadata === undefined ? undefined : normalizeMetadata(batchOptions.metadata);
      const accepted: { identifier: string; variable: Variable; value: VariableValue }[] = [];
      const targeted = new Map<string, string>();
      const failures = new Map<string, StateErrorFailure>();
      let firstError: StateError | undefined;
      for (const [identifier, raw] of updates) {
        try {
          const variable = require(identifier);
          const earlier = targeted.get(variable.id);
          if (earlier !== undefined) {
            throw new StateError(
              "invalid_value",
              `${JSON.stringify(identifier)} and ${JSON.stringify(earlier)} name the same variable in one batch`,
            );
          }
          targeted.set(variable.id, identifier);
          accepted.push({ identifier, variable, value: prepare(variable, raw) });
        } catch (error) {
          if (!(error instanceof StateError)) throw error;
          if (batchOptions.atomic) throw error;
          firstError ??= error;
          failures.set(String(identifier), { code: error.code, message: error.rawMessage });
        }
      }
      const versions = new Map<string, number>();
      if (accepted.length > 0) {
        const timestamp = now();
        const changes: VariableChange[] = [];
        for (const { identifier, variable, value } of accepted) {
          const { updated, change } = write(variable, value, metadata, batchOptions.source, timestamp);
          versions.set(identifier, updated.version);
          changes.push(change);
        }
        revision++;
        onCommit({ revision, changes });
      }
      if (failures.size > 0) {
        const shown = [...failures]
          .slice(0, 5)
          .map(
            ([identifier, failure]) => `${JSON.stringify(identifier)}: ${failure.code}: ${failure.message}`,
          );
        throw new StateError(
          "partial_failure",
          `${failures.size} of ${failures.size + accepted.length} updates failed` +
            (accepted.length > 0
              ? ` (the others were applied at revision ${revision})`
              : " (nothing was applied)") +
            `: ${shown.join("; ")}${failures.size > 5 ? "; ..." : ""}`,
          { failures, applied: versions, cause: firstError },
        );
      }
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
      byId.delete(variable.id);
      idByName.delete(variable.name);
      revision++;
      onCommit({
        revision,
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
          },
        ],
      });
      return { revision };
    },

    import(parsed) {
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
        checkSize(variable.name, variable.type, variable.value);
      }
      if (byId.size + parsed.variables.length > maxVariables) {
        throw new StateError(
          "resource_exhausted",
          `importing ${parsed.variables.length} variables into session ${JSON.stringify(sessionId)}, ` +
            `which holds ${byId.size}, would exceed the limit of ${maxVariables}`,
        );
      }
      const adopted = byId.size === 0;
      for (const variable of parsed.variables) {
        byId.set(variable.id, variable);
        idByName.set(variable.name, variable.id);
      }
      revision = adopted ? Math.max(revision, parsed.revision) : Math.max(revision, parsed.revision) + 1;
      return { revision, imported: parsed.variables.length, adopted };
    },

    clear() {
      byId.clear();
      idByName.clear();
    },
  };
}
