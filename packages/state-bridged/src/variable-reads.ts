import { BridgeService, type Variable as WireVariable } from "@statebridge/proto";
import {
  compileGlob,
  type GetOptions,
  isStateError,
  isVariableType,
  StateError,
  type Variable,
  type VariableValue,
} from "@statebridge/state-provider";
import { assertOpen, type BridgedCore } from "./bridged-core.js";
import type { NearCache } from "./near-cache.js";
import { valueFromWire, variableFromWire } from "./wire-variable.js";

/** `get()`: from the near cache if it may serve the variable, else from the server. */
export async function readValue(
  core: BridgedCore,
  identifier: string,
  options: GetOptions | undefined,
): Promise<VariableValue> {
  if (core.cache === undefined) return valueFromWire(await fetchVariable(core, identifier));
  return (cached(core, identifier, options) ?? (await fetchCached(core, identifier))).value;
}

/** `getVariable()`: from the near cache if it may serve the variable, else from the server. */
export async function readVariable(
  core: BridgedCore,
  identifier: string,
  options: GetOptions | undefined,
): Promise<Variable> {
  if (core.cache === undefined) return variableFromWire(await fetchVariable(core, identifier));
  return cached(core, identifier, options) ?? (await fetchCached(core, identifier));
}

/** The near cache's variable, unless there is none, it may not be served, or `fresh` is asked. */
function cached(
  core: BridgedCore,
  identifier: string,
  options: GetOptions | undefined,
): Variable | undefined {
  if (options?.fresh === true) return undefined;
  const variable = (core.cache as NearCache).lookup(identifier);
  // A session learned ended by another call ends cached reads too.
  if (variable !== undefined) core.session.assertLive();
  return variable;
}

/** Reads a variable from the server and gives it to the near cache. */
async function fetchCached(core: BridgedCore, identifier: string): Promise<Variable> {
  const variable = variableFromWire(await fetchVariable(core, identifier));
  core.cache?.observe(variable);
  return variable;
}

/**
 * Reads one variable from the server (a `GetVariable` call, retried like every read) and
 * remembers its type. Not traced: the operation that calls it is the one event.
 */
export async function fetchVariable(core: BridgedCore, identifier: string): Promise<WireVariable> {
  const sessionId = core.sessionId;
  const response = await core.policy.idempotent((call) =>
    core.unary(BridgeService.method.getVariable, { sessionId, identifier }, call),
  );
  const variable = requireVariable(response.variable);
  rememberType(core, variable);
  return variable;
}

/** `getMany()`: from the near cache if it may serve every identifier, else from the server. */
export async function readMany(
  core: BridgedCore,
  identifiers: Iterable<string>,
  options: GetOptions | undefined,
): Promise<Map<string, VariableValue>> {
  const requested = [...identifiers];
  const fromCache = core.cache === undefined ? undefined : cachedMany(core, requested, options);
  if (fromCache !== undefined) return fromCache;
  const sessionId = core.sessionId;
  const response = await core.policy.idempotent((call) =>
    core.unary(BridgeService.method.getVariables, { sessionId, identifiers: requested }, call),
  );
  const missing = new Set(response.missing);
  const values = new Map<string, VariableValue>();
  for (const identifier of requested) {
    if (values.has(identifier) || missing.has(identifier)) continue;
    let variable = ownEntry(response.variables, identifier);
    if (variable === undefined) {
      // The decoded protobuf map is a plain object, which cannot hold a key like
      // `__proto__`: such an identifier is read on its own.
      try {
        variable = await fetchVariable(core, identifier);
      } catch (error) {
        if (isStateError(error, "not_found")) continue;
        throw error;
      }
    }
    rememberType(core, variable);
    if (core.cache === undefined) {
      values.set(identifier, valueFromWire(variable));
    } else {
      const full = variableFromWire(variable);
      core.cache.observe(full);
      values.set(identifier, full.value);
    }
  }
  return values;
}

/** getMany() from the near cache, if it may serve every identifier; else undefined. */
function cachedMany(
  core: BridgedCore,
  requested: readonly string[],
  options: GetOptions | undefined,
): Map<string, VariableValue> | undefined {
  if (options?.fresh === true || requested.length === 0) return undefined;
  const values = new Map<string, VariableValue>();
  for (const identifier of requested) {
    const variable = (core.cache as NearCache).lookup(identifier);
    if (variable === undefined) return undefined;
    values.set(identifier, variable.value);
  }
  core.session.assertLive();
  return values;
}

/** `list()`: always asks the server, which alone knows of variables registered elsewhere. */
export async function listVariables(core: BridgedCore, pattern: string | undefined): Promise<Variable[]> {
  assertOpen(core);
  // The pattern travels as text: anything else is refused exactly as the server's shared
  // glob compiler would refuse it.
  if (pattern !== undefined && typeof pattern !== "string") compileGlob(pattern);
  const sessionId = core.sessionId;
  const response = await core.policy.idempotent((call) =>
    core.unary(
      BridgeService.method.listVariables,
      { sessionId, ...(pattern === undefined ? {} : { pattern }) },
      call,
    ),
  );
  return response.variables.map((wire) => {
    const variable = variableFromWire(wire);
    core.types.remember(variable);
    // Only moves cached entries forward; list() itself always asks the server, which alone
    // knows of variables registered elsewhere.
    core.cache?.observe(variable);
    return variable;
  });
}

function rememberType(core: BridgedCore, variable: WireVariable): void {
  if (isVariableType(variable.type)) {
    core.types.remember({ id: variable.id, name: variable.name, type: variable.type });
  }
}

/** The variable of a response that must carry one. @throws `unavailable` if it does not. */
export function requireVariable(variable: WireVariable | undefined): WireVariable {
  if (variable === undefined)
    throw new StateError("unavailable", "the bridge-server answered without the variable");
  return variable;
}

/** Reads a key of a decoded protobuf map only if it is the map's own entry. */
export function ownEntry<T>(record: { readonly [key: string]: T }, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
