import type { Constraints, Metadata, Variable, VariableType, VariableValue } from "./variable.js";

/**
 * Builds a frozen variable with its fields always in the same order, so that every variable a
 * provider holds has one object shape. The fields are taken as they are: check them first.
 */
export function freezeVariable(
  id: string,
  name: string,
  type: VariableType,
  value: VariableValue,
  constraints: Constraints,
  metadata: Metadata,
  version: number,
  createdAt: number,
  updatedAt: number,
  source: string,
): Variable {
  return Object.freeze({
    id,
    name,
    type,
    value,
    constraints,
    metadata,
    version,
    createdAt,
    updatedAt,
    source,
  });
}

/**
 * The next version of `current`: `value` with `metadata` (already merged, as it is to be
 * stored) written by `source` at `timestamp`; id, name, type, constraints and creation kept.
 */
export function nextVariableVersion(
  current: Variable,
  value: VariableValue,
  metadata: Metadata,
  timestamp: number,
  source: string,
): Variable {
  return freezeVariable(
    current.id,
    current.name,
    current.type,
    value,
    current.constraints,
    metadata,
    current.version + 1,
    current.createdAt,
    timestamp,
    source,
  );
}
