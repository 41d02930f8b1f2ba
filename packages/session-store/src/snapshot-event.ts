import type { Variable, WatchEvent, WatchEventType } from "@statebridge/state-provider";

/**
 * The event that tells a watcher a variable's current state (an initial value or a resync),
 * as every store builds it: no old value, the variable as it is, at `revision`.
 */
export function snapshotEvent(
  type: WatchEventType,
  identifier: string,
  variable: Variable,
  revision: number,
): WatchEvent {
  return {
    type,
    identifier,
    id: variable.id,
    name: variable.name,
    variableType: variable.type,
    oldValue: undefined,
    newValue: variable.value,
    version: variable.version,
    revision,
    source: variable.source,
    metadata: variable.metadata,
    timestamp: variable.updatedAt,
  };
}
