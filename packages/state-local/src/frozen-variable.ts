import type {
  Constraints,
  Metadata,
  Variable,
  VariableType,
  VariableValue,
} from "@statebridge/state-provider";
import { mergeMetadata } from "@statebridge/state-provider";

/** Builds a frozen variable, always with the same property order (one object shape). */
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

/** The next version of `current`: `value` written by `source` at `timestamp`, metadata merged. */
export function nextVersion(
  current: Variable,
  value: VariableValue,
  metadataUpdate: Metadata | undefined,
  timestamp: number,
  source: string,
): Variable {
  return freezeVariable(
    current.id,
    current.name,
    current.type,
    value,
    current.constraints,
    mergeMetadata(current.metadata, metadataUpdate),
    current.version + 1,
    current.createdAt,
    timestamp,
    source,
  );
}
