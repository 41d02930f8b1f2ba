import type { MessageInitShape } from "@bufbuild/protobuf";
import { BridgeService, type VariableUpdateSchema } from "@statebridge/proto";
import {
  assertExpectedVersion,
  assertVariableName,
  assertVariableType,
  describe,
  isStateError,
  isWellFormed,
  type RegisteredVariable,
  type RegisterOptions,
  type SetOptions,
  StateError,
  type UpdateManyOptions,
  type UpdateManyResult,
  type Updates,
  type VariableType,
} from "@statebridge/state-provider";
import { assertOpen, type BridgedCore } from "./bridged-core.js";
import {
  type Encoding,
  encodeConstraints,
  encodeFor,
  encodeMetadata,
  encodeValue,
  type WireValueKind,
} from "./value-encoding.js";
import { fetchVariable, ownEntry, requireVariable } from "./variable-reads.js";
import { typeOf } from "./wire-variable.js";

type UpdateInit = MessageInitShape<typeof VariableUpdateSchema>;

/** `register()`: creates the variable on the server and remembers its type. */
export async function registerVariable(
  core: BridgedCore,
  name: string,
  type: VariableType,
  initial: unknown,
  options: RegisterOptions = {},
): Promise<RegisteredVariable> {
  assertOpen(core);
  // Fields the wire cannot carry faithfully are checked with the shared type system, the
  // same code the server runs: a non-string name or type would be coerced to text, a lone
  // surrogate replaced by U+FFFD in UTF-8, and JSON would turn NaN into null or drop a
  // RegExp instead of refusing them.
  if (typeof name !== "string" || !isWellFormed(name)) assertVariableName(name);
  if (typeof type !== "string") assertVariableType(type);
  const description = options.description;
  if (description !== undefined && typeof description !== "string") {
    throw new StateError("invalid_value", `description must be a string, got ${describe(description)}`);
  }
  const constraintsJson = encodeConstraints(type, options.constraints);
  const metadataJson = encodeMetadata(options.metadata);
  const response = await core.policy.once((call) =>
    core.unary(
      BridgeService.method.registerVariable,
      {
        sessionId: core.sessionId,
        name,
        type,
        initialValue: { kind: encodeValue(name, type, initial) },
        constraintsJson,
        metadataJson,
        description: description ?? "",
        source: core.source,
      },
      call,
    ),
  );
  const variable = requireVariable(response.variable);
  // A name cached for a variable deleted elsewhere is now another variable's.
  core.cache?.forget(variable.name);
  const registeredType = typeOf(variable);
  core.types.remember({ id: variable.id, name: variable.name, type: registeredType });
  return Object.freeze({
    id: variable.id,
    name: variable.name,
    type: registeredType,
    version: Number(variable.version),
    revision: Number(response.revision),
  });
}

/** `set()`: a failed write forgets the near cache's entry, since it may have applied. */
export async function setVariable(
  core: BridgedCore,
  identifier: string,
  value: unknown,
  options: SetOptions = {},
): Promise<number> {
  const cache = core.cache;
  if (cache === undefined) return sendSet(core, identifier, value, options);
  try {
    const version = await sendSet(core, identifier, value, options);
    cache.wrote(identifier, version);
    return version;
  } catch (error) {
    // A write that failed may still have applied (a deadline): the cached entry goes.
    cache.forget(identifier);
    throw error;
  }
}

/** Sends a `SetVariable`, once more in the fallback field if a cached type was stale. */
async function sendSet(
  core: BridgedCore,
  identifier: string,
  value: unknown,
  options: SetOptions,
): Promise<number> {
  assertOpen(core);
  const metadataJson = encodeMetadata(options.metadata);
  const expectedVersion =
    options.expectedVersion === undefined
      ? undefined
      : BigInt(assertExpectedVersion(options.expectedVersion));
  const send = (kind: WireValueKind) =>
    core.policy.once((call) =>
      core.unary(
        BridgeService.method.setVariable,
        {
          sessionId: core.sessionId,
          identifier,
          value: { kind },
          metadataJson,
          source: core.source,
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
        },
        call,
      ),
    );
  const encoding = encodeFor(core.types, identifier, value);
  let response: Awaited<ReturnType<typeof send>>;
  try {
    response = await send(encoding.kind);
  } catch (error) {
    // A stale cached type (the variable was replaced by one of another type elsewhere) puts
    // the value in a field the server refuses; a refused write changed nothing, so it is
    // safe to send once more in the field the value's own kind suggests.
    if (!encoding.fromCache || !isStateError(error, "invalid_value")) throw error;
    core.types.forget(identifier);
    response = await send(encoding.fallback);
  }
  return Number(response.version);
}

/** `updateMany()`: a failed batch forgets the near cache's entries, since part may have applied. */
export async function updateVariables(
  core: BridgedCore,
  updates: Updates,
  options: UpdateManyOptions = {},
): Promise<UpdateManyResult> {
  const cache = core.cache;
  if (cache === undefined) return sendUpdates(core, updates, options);
  try {
    const result = await sendUpdates(core, updates, options);
    for (const [identifier, version] of result.versions) cache.wrote(identifier, version);
    return result;
  } catch (error) {
    // Whatever applied or may have applied: those entries go.
    if (updates instanceof Map || (typeof updates === "object" && updates !== null)) {
      for (const [identifier] of entriesOf(updates)) cache.forget(identifier);
    }
    throw error;
  }
}

/** Sends a `SetVariables`, once more in the fallback fields if a refused batch had a stale type. */
async function sendUpdates(
  core: BridgedCore,
  updates: Updates,
  options: UpdateManyOptions,
): Promise<UpdateManyResult> {
  assertOpen(core);
  const entries = entriesOf(updates);
  const metadataJson = encodeMetadata(options.metadata);
  const atomic = options.atomic === true;
  const encodings = entries.map(([identifier, value]) => encodeFor(core.types, identifier, value));
  const send = (useFallback: boolean) =>
    core.policy.once((call) =>
      core.unary(
        BridgeService.method.setVariables,
        {
          sessionId: core.sessionId,
          updates: entries.map(([identifier], index): UpdateInit => {
            const encoding = encodings[index] as Encoding;
            return { identifier, value: { kind: useFallback ? encoding.fallback : encoding.kind } };
          }),
          metadataJson,
          atomic,
          source: core.source,
        },
        call,
      ),
    );
  let response: Awaited<ReturnType<typeof send>>;
  try {
    response = await send(false);
  } catch (error) {
    if (!isStateError(error)) throw error;
    if (error.code === "partial_failure") {
      // The applied part cannot be undone, so a failure caused by a stale cached type is
      // reported as is; forgetting the type lets the caller's retry succeed.
      for (const [identifier, failure] of error.failures) {
        if (failure.code === "invalid_value") core.types.forget(identifier);
      }
      throw error;
    }
    // An atomic batch that was refused changed nothing: like set(), retry once in the
    // fields the values' own kinds suggest if a cached type may have been stale.
    if (error.code !== "invalid_value" || !encodings.some((encoding) => encoding.fromCache)) throw error;
    for (const [identifier] of entries) core.types.forget(identifier);
    response = await send(true);
  }
  const versions = new Map<string, number>();
  for (const [identifier] of entries) {
    const version = ownEntry(response.versions, identifier);
    if (version !== undefined) {
      versions.set(identifier, Number(version));
    } else {
      // See getMany(): a key like `__proto__` cannot survive the decoded protobuf map, so
      // its version is read back.
      // Read without the traced getVariable(): one updateMany() is one operation event.
      versions.set(identifier, Number((await fetchVariable(core, identifier)).version));
    }
  }
  return { revision: Number(response.revision), versions };
}

/** `delete()`: the near cache's entry goes whatever the outcome. */
export async function deleteVariable(core: BridgedCore, identifier: string): Promise<void> {
  try {
    await core.policy.once((call) =>
      core.unary(
        BridgeService.method.deleteVariable,
        { sessionId: core.sessionId, identifier, source: core.source },
        call,
      ),
    );
  } finally {
    core.cache?.forget(identifier);
  }
  core.types.forget(identifier);
}

/** The entries of `updateMany()`'s argument, a Map or a plain object. */
function entriesOf(updates: Updates): [string, unknown][] {
  if (updates instanceof Map) return [...updates];
  if (typeof updates !== "object" || updates === null || Array.isArray(updates)) {
    throw new StateError("invalid_value", `updates must be a Map or an object, got ${describe(updates)}`);
  }
  const record = updates as { readonly [identifier: string]: unknown };
  return Object.keys(record).map((identifier) => [identifier, record[identifier]]);
}
