import { validateConstraints } from "./constraints.js";
import { StateError } from "./errors.js";
import { freezeVariable } from "./frozen-variable.js";
import { assertVariableName, isIdShaped } from "./identifiers.js";
import { describe } from "./messages.js";
import { normalizeMetadata } from "./metadata.js";
import { packFloat64, unpackFloat64 } from "./packed.js";
import { assertVariableType, isTensorValue, normalizeValue } from "./type-system.js";
import type { Constraints, Metadata, Variable, VariableType, VariableValue } from "./variable.js";

/** The `format` field of every export document. */
export const EXPORT_FORMAT = "statebridge.export";
/** The export format version this package writes and reads. */
export const EXPORT_VERSION = 1;

/**
 * A value in an export document, JSON-safe and lossless:
 * - a finite number (not -0), a string or a boolean, as is;
 * - `{ "$float": "NaN" | "Infinity" | "-Infinity" | "-0" }` for the numbers JSON cannot hold;
 * - `{ "$f64": base64 }` for an embedding: packed little-endian doubles;
 * - `{ "shape": number[], "$f64": base64 }` for a tensor.
 */
export type ExportedValue =
  | number
  | string
  | boolean
  | { readonly $float: "NaN" | "Infinity" | "-Infinity" | "-0" }
  | { readonly $f64: string }
  | { readonly shape: readonly number[]; readonly $f64: string };

/** One variable in an export document. */
export interface ExportedVariable {
  readonly id: string;
  readonly name: string;
  readonly type: VariableType;
  readonly value: ExportedValue;
  readonly constraints: Constraints;
  readonly metadata: Metadata;
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly source: string;
}

/** A whole session, as `export()` returns it and `import()` takes it. JSON-serializable. */
export interface ExportDocument {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly sessionId: string;
  /** The session revision at export time. */
  readonly revision: number;
  /** Wall-clock epoch milliseconds. */
  readonly exportedAt: number;
  /** Session metadata. */
  readonly metadata: Metadata;
  /** Every variable, in creation order. */
  readonly variables: readonly ExportedVariable[];
}

/** An export document after validation: values normalized, ready to store. */
export interface ParsedExport {
  readonly sessionId: string;
  readonly revision: number;
  readonly metadata: Metadata;
  readonly variables: readonly Variable[];
}

/** Encodes one normalized value for an export document. */
export function encodeValue(type: VariableType, value: VariableValue): ExportedValue {
  if (type === "embedding") {
    return { $f64: Buffer.from(packFloat64(value as readonly number[])).toString("base64") };
  }
  if (type === "tensor" && isTensorValue(value)) {
    return { shape: [...value.shape], $f64: Buffer.from(packFloat64(value.data)).toString("base64") };
  }
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { $float: "NaN" };
    if (value === Number.POSITIVE_INFINITY) return { $float: "Infinity" };
    if (value === Number.NEGATIVE_INFINITY) return { $float: "-Infinity" };
    if (Object.is(value, -0)) return { $float: "-0" };
  }
  return value as number | string | boolean;
}

/**
 * Decodes a value of an export document into the raw value `normalizeValue` takes.
 * @throws `invalid_export` naming `path` if the encoding is malformed.
 */
export function decodeValue(type: VariableType, encoded: unknown, path: string): unknown {
  if (typeof encoded !== "object" || encoded === null) return encoded;
  const record = encoded as Record<string, unknown>;
  if ("$float" in record) {
    switch (record.$float) {
      case "NaN":
        return Number.NaN;
      case "Infinity":
        return Number.POSITIVE_INFINITY;
      case "-Infinity":
        return Number.NEGATIVE_INFINITY;
      case "-0":
        return -0;
      default:
        throw invalid(
          `${path}.$float is ${describe(record.$float)}; expected NaN, Infinity, -Infinity or -0`,
        );
    }
  }
  if ("$f64" in record) {
    const data = decodeBase64Doubles(record.$f64, `${path}.$f64`);
    if (type === "tensor") return { shape: record.shape, data };
    return data;
  }
  return encoded;
}

function decodeBase64Doubles(text: unknown, path: string): number[] {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw invalid(`${path} must be base64 text, got ${describe(text)}`);
  }
  const numbers = unpackFloat64(Buffer.from(text, "base64"));
  if (numbers === undefined) throw invalid(`${path} does not hold whole 8-byte doubles`);
  return numbers;
}

/** Builds an export document from a session's state. */
export function createExport(session: {
  readonly sessionId: string;
  readonly revision: number;
  readonly metadata?: Metadata;
  readonly variables: Iterable<Variable>;
}): ExportDocument {
  const variables: ExportedVariable[] = [];
  for (const variable of session.variables) {
    variables.push({
      id: variable.id,
      name: variable.name,
      type: variable.type,
      value: encodeValue(variable.type, variable.value),
      constraints: variable.constraints,
      metadata: variable.metadata,
      version: variable.version,
      createdAt: variable.createdAt,
      updatedAt: variable.updatedAt,
      source: variable.source,
    });
  }
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    sessionId: session.sessionId,
    revision: session.revision,
    exportedAt: Date.now(),
    metadata: session.metadata ?? Object.freeze(Object.create(null)),
    variables,
  };
}

/**
 * Validates an export document and normalizes every value with the type system, so an import
 * stores exactly what a register would have.
 * @throws `invalid_export` naming the first problem by its path (for example
 *   `variables[3].version must be a non-negative integer`). Ids and names repeated inside the
 *   document are problems too.
 */
export function parseExport(document: unknown): ParsedExport {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw invalid(`an export must be an object, got ${describe(document)}`);
  }
  const record = document as Record<string, unknown>;
  if (record.format !== EXPORT_FORMAT) {
    throw invalid(`format must be ${JSON.stringify(EXPORT_FORMAT)}, got ${describe(record.format)}`);
  }
  if (record.version !== EXPORT_VERSION) {
    throw invalid(
      `version ${describe(record.version)} is not supported; this reader takes ${EXPORT_VERSION}`,
    );
  }
  if (typeof record.sessionId !== "string") {
    throw invalid(`sessionId must be a string, got ${describe(record.sessionId)}`);
  }
  const revision = checkCount(record.revision, undefined, "revision");
  const metadata = wrap("metadata", () => normalizeMetadata(record.metadata, "metadata"));
  if (!Array.isArray(record.variables)) {
    throw invalid(`variables must be an array, got ${describe(record.variables)}`);
  }
  return {
    sessionId: record.sessionId,
    revision,
    metadata,
    variables: parseVariables(record.variables, true),
  };
}

/**
 * A variable of an export whose value is already decoded: the raw value `normalizeValue`
 * takes (a number, a bigint for an integer, a string, a boolean, an array of numbers or a
 * `{ shape, data }` tensor), as a wire format carries it, rather than its export encoding.
 * Every field is checked as {@link parseExport} checks it.
 */
export interface DecodedExportedVariable {
  readonly id: unknown;
  readonly name: unknown;
  readonly type: unknown;
  readonly value: unknown;
  readonly constraints: unknown;
  readonly metadata: unknown;
  readonly version: unknown;
  readonly createdAt: unknown;
  readonly updatedAt: unknown;
  readonly source: unknown;
}

/**
 * Validates the variables of an export whose values are already decoded (see
 * {@link DecodedExportedVariable}), with the same checks and the same messages as
 * {@link parseExport}: a server that received an import in its own wire format runs every
 * value through the type system once, without encoding it for an export document first.
 * @throws `invalid_export` naming the first problem by its path (`variables[3].value: …`).
 */
export function parseExportedVariables(variables: readonly DecodedExportedVariable[]): Variable[] {
  return parseVariables(variables, false);
}

function parseVariables(items: readonly unknown[], encoded: boolean): Variable[] {
  const ids = new Set<string>();
  const names = new Set<string>();
  const variables: Variable[] = [];
  for (let index = 0; index < items.length; index++) {
    variables.push(parseVariable(items[index], index, encoded, ids, names));
  }
  return variables;
}

/** Checks one variable; the wrapped checks are plain try/catch so that the loop allocates no closure. */
function parseVariable(
  item: unknown,
  index: number,
  encoded: boolean,
  ids: Set<string>,
  names: Set<string>,
): Variable {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw invalid(`${pathOf(index)} must be an object, got ${describe(item)}`);
  }
  const entry = item as Record<string, unknown>;
  const id = entry.id;
  if (typeof id !== "string" || !isIdShaped(id)) {
    throw invalid(`${pathOf(index)}.id must be a variable id (var_ and 24 hex digits), got ${describe(id)}`);
  }
  if (ids.has(id)) throw invalid(`${pathOf(index)}.id ${id} appears twice`);
  let name: string;
  try {
    name = assertVariableName(entry.name);
  } catch (error) {
    throw at(`${pathOf(index)}.name`, error);
  }
  if (names.has(name)) throw invalid(`${pathOf(index)}.name ${JSON.stringify(name)} appears twice`);
  let type: VariableType;
  try {
    type = assertVariableType(entry.type);
  } catch (error) {
    throw at(`${pathOf(index)}.type`, error);
  }
  let constraints: Constraints;
  try {
    constraints = validateConstraints(type, entry.constraints);
  } catch (error) {
    throw at(`${pathOf(index)}.constraints`, error);
  }
  const raw = encoded ? decodeValue(type, entry.value, `${pathOf(index)}.value`) : entry.value;
  let value: VariableValue;
  try {
    value = normalizeValue(type, raw, constraints, name);
  } catch (error) {
    throw at(`${pathOf(index)}.value`, error);
  }
  let metadata: Metadata;
  try {
    metadata =
      entry.metadata === undefined || entry.metadata === null
        ? normalizeMetadata(entry.metadata)
        : normalizeMetadata(entry.metadata, `${pathOf(index)}.metadata`);
  } catch (error) {
    throw at(`${pathOf(index)}.metadata`, error);
  }
  const version = checkCount(entry.version, index, "version");
  const createdAt = checkTimestamp(entry.createdAt, index, "createdAt");
  const updatedAt = checkTimestamp(entry.updatedAt, index, "updatedAt");
  const source = entry.source;
  if (typeof source !== "string") {
    throw invalid(`${pathOf(index)}.source must be a string, got ${describe(source)}`);
  }
  ids.add(id);
  names.add(name);
  return freezeVariable(id, name, type, value, constraints, metadata, version, createdAt, updatedAt, source);
}

function pathOf(index: number): string {
  return `variables[${index}]`;
}

/** Checks a count; `field` is a document field, or a variable's field when `index` is given. */
function checkCount(value: unknown, index: number | undefined, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${fieldPath(index, field)} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function checkTimestamp(value: unknown, index: number, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalid(`${fieldPath(index, field)} must be epoch milliseconds, got ${describe(value)}`);
  }
  return value;
}

function fieldPath(index: number | undefined, field: string): string {
  return index === undefined ? field : `${pathOf(index)}.${field}`;
}

/** A type-system error as an `invalid_export` naming `path`; anything else as it is. */
function at(path: string, error: unknown): unknown {
  if (error instanceof StateError) {
    return new StateError("invalid_export", `${path}: ${error.rawMessage}`, { cause: error });
  }
  return error;
}

function wrap<T>(path: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof StateError) {
      throw new StateError("invalid_export", `${path}: ${error.rawMessage}`, { cause: error });
    }
    throw error;
  }
}

function invalid(message: string): StateError {
  return new StateError("invalid_export", message);
}
