import { randomBytes } from "node:crypto";
import { checkValueSize } from "@statebridge/session-store";
import {
  assertVariableName,
  assertVariableType,
  createVariableId,
  describe,
  mergeMetadata,
  normalizeMetadata,
  normalizeValue,
  type ParsedExport,
  StateError,
  type Variable,
  validateConstraints,
} from "@statebridge/state-provider";
import { decodeMetadata, encodeHeader, encodeMetadata, encodeStoredValue } from "./codec.js";
import { checkIdentifier, notFoundError, type StoreContext } from "./context.js";
import { goneError, text } from "./replies.js";
import { DELETE, IMPORT, REGISTER } from "./scripts.js";

/** Registers a variable: validated here, written by one REGISTER script call. */
export async function registerVariable(
  context: StoreContext,
  sessionId: string,
  name: unknown,
  type: unknown,
  initial: unknown,
  options: { constraints: unknown; metadata: unknown; description: unknown; source: string },
): Promise<{ variable: Variable; revision: number }> {
  const checkedName = assertVariableName(name);
  const checkedType = assertVariableType(type);
  const constraints = validateConstraints(checkedType, options.constraints);
  let metadata = normalizeMetadata(options.metadata);
  if (options.description !== undefined) {
    if (typeof options.description !== "string") {
      throw new StateError(
        "invalid_value",
        `description must be a string, got ${describe(options.description)}`,
      );
    }
    metadata = mergeMetadata(metadata, normalizeMetadata({ description: options.description }));
  }
  const value = normalizeValue(checkedType, initial, constraints, checkedName);
  const valueBytes = checkValueSize(checkedName, checkedType, value, context.limits.maxValueBytes);
  const keys = context.keys(sessionId);
  const encoded = encodeStoredValue(checkedType, value);
  for (;;) {
    const id = createVariableId();
    const createdAt = Date.now();
    const blobs: string[] = [];
    const stored = await context.place(keys, encoded, blobs);
    const reply = await context
      .run(REGISTER, keys, [
        id,
        checkedName,
        encodeHeader({ name: checkedName, type: checkedType, constraints, createdAt }),
        encodeMetadata(metadata),
        options.source,
        stored,
        String(context.limits.maxVariables),
        String(valueBytes),
        String(context.limits.maxValueBytes),
        String(createdAt),
      ])
      .catch(async (error: unknown) => {
        await context.discard(keys, blobs);
        throw error;
      });
    if (text(reply[0]) !== "ok") await context.discard(keys, blobs);
    switch (text(reply[0])) {
      case "ok":
        return {
          variable: Object.freeze({
            id,
            name: checkedName,
            type: checkedType,
            value,
            constraints,
            metadata,
            version: 0,
            createdAt,
            updatedAt: createdAt,
            source: options.source,
          }),
          revision: Number(reply[1]),
        };
      case "gone":
        throw goneError(sessionId, text(reply[1]));
      case "exists":
        throw new StateError(
          "already_exists",
          `variable ${JSON.stringify(checkedName)} already exists in session ${JSON.stringify(sessionId)}`,
        );
      case "full":
        throw new StateError(
          "resource_exhausted",
          `session ${JSON.stringify(sessionId)} holds ${text(reply[1])} variables, the most allowed; ` +
            `cannot register ${JSON.stringify(checkedName)}`,
        );
      default:
        // id_taken: 96 random bits met an existing id; draw another.
        continue;
    }
  }
}

/** Deletes a variable by one DELETE script call. */
export async function deleteVariable(
  context: StoreContext,
  sessionId: string,
  identifier: string,
  source: string,
): Promise<{ revision: number }> {
  const checked = checkIdentifier(identifier);
  if (checked === undefined) {
    await context.read(sessionId, "none");
    throw notFoundError(sessionId, identifier);
  }
  const reply = await context.run(DELETE, context.keys(sessionId), [
    checked,
    source,
    String(context.limits.historySize),
    String(context.limits.historyBytes),
  ]);
  const status = text(reply[0]);
  if (status === "gone") throw goneError(sessionId, text(reply[1]));
  if (status === "not_found") throw notFoundError(sessionId, identifier);
  return { revision: Number(reply[1]) };
}

/**
 * Imports parsed variables into a session (created if absent), all or nothing, by one IMPORT
 * script call; retried when the session changed between the read and the call.
 */
export async function importParsed(
  context: StoreContext,
  sessionId: string,
  parsed: ParsedExport,
  checkQuota: (sessionId: string) => Promise<void>,
  afterCreate: (sessionId: string) => Promise<void>,
): Promise<{ revision: number; imported: number }> {
  const keys = context.keys(sessionId);
  const encoded = parsed.variables.map((variable) => {
    checkValueSize(variable.name, variable.type, variable.value, context.limits.maxValueBytes);
    return encodeStoredValue(variable.type, variable.value);
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const blobs: string[] = [];
    const args: (string | Buffer)[] = [];
    for (const [index, variable] of parsed.variables.entries()) {
      const stored = await context
        .place(keys, encoded[index] as Buffer, blobs)
        .catch(async (error: unknown) => {
          await context.discard(keys, blobs);
          throw error;
        });
      args.push(
        variable.id,
        variable.name,
        encodeHeader(variable),
        encodeMetadata(variable.metadata),
        String(variable.version),
        String(variable.updatedAt),
        variable.source,
        stored,
      );
    }
    let epoch = "";
    let metadata = mergeMetadata(decodeMetadata(""), parsed.metadata);
    try {
      const current = await context.read(sessionId, "peek");
      epoch = current.epoch;
      metadata = mergeMetadata(current.info.metadata, parsed.metadata);
    } catch (error) {
      if (!(error instanceof StateError) || error.code !== "session_expired") throw error;
      await checkQuota(sessionId);
    }
    const newEpoch = randomBytes(8).toString("hex");
    const reply = await context
      .run(
        IMPORT,
        keys,
        [
          newEpoch,
          String(context.limits.ttlMs),
          String(parsed.revision),
          encodeMetadata(metadata),
          String(context.limits.maxVariables),
          String(parsed.variables.length),
          ...args,
        ],
        epoch,
      )
      .catch(async (error: unknown) => {
        await context.discard(keys, blobs);
        throw error;
      });
    const status = text(reply[0]);
    if (status !== "ok") await context.discard(keys, blobs);
    if (status === "ok") {
      if (text(reply[3]) === "1") await afterCreate(sessionId);
      return { revision: Number(reply[1]), imported: parsed.variables.length };
    }
    const variable = parsed.variables[Number(reply[1])];
    if (status === "id_exists" && variable !== undefined) {
      throw new StateError(
        "already_exists",
        `variable id ${variable.id} (${JSON.stringify(variable.name)}) already exists in session ${JSON.stringify(sessionId)}`,
      );
    }
    if (status === "name_exists" && variable !== undefined) {
      throw new StateError(
        "already_exists",
        `variable ${JSON.stringify(variable.name)} already exists in session ${JSON.stringify(sessionId)}`,
      );
    }
    if (status === "full") {
      throw new StateError(
        "resource_exhausted",
        `importing ${parsed.variables.length} variables into session ${JSON.stringify(sessionId)}, ` +
          `which holds ${text(reply[1])}, would exceed the limit of ${context.limits.maxVariables}`,
      );
    }
    // gone or epoch: the session ended or was recreated since it was read; read it again.
  }
  throw new StateError(
    "unavailable",
    `the import into session ${JSON.stringify(sessionId)} kept racing others; retry`,
  );
}
