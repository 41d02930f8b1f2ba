import { StateError } from "./errors.js";
import { packFloat64, unpackFloat64 } from "./packed.js";
import {
  assertVariableName,
  assertVariableType,
  describe,
  isIdShaped,
  isTensorValue,
  normalizeMetadata,
  normalizeValue,
  validateConstraints,
} from "./type-system.js";
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
  const revision = checkCount(record.revision, "revision");
  const metadata = wrap("metadata", () => normalizeMetadata(record.metadata, "metadata"));
  if (!Array.isArray(record.variables)) {
    throw invalid(`variables must be an array, got ${describe(record.variables)}`);
  }
  const ids = new Set<string>();
  const names = new Set<string>();
  const variables: Variable[] = [];
  record.variables.forEach((item: unknown, index: number) => {
    const path = `variables[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw invalid(`${path} must be an object, got ${describe(item)}`);
    }
    const entry = item as Record<string, unknown>;
    if (typeof entry.id !== "string" || !isIdShaped(entry.id)) {
      throw invalid(`${path}.id must be a variable id (var_ and 24 hex digits), got ${describe(entry.id)}`);
    }
    if (ids.has(entry.id)) throw invalid(`${path}.id ${entry.id} appears twice`);
    const name = wrap(`${path}.name`, () => assertVariableName(entry.name));
    if (names.has(name)) throw invalid(`${path}.name ${JSON.stringify(name)} appears twice`);
    const type = wrap(`${path}.type`, () => assertVariableType(entry.type));
    const constraints = wrap(`${path}.constraints`, () => validateConstraints(type, entry.constraints));
    const raw = decodeValue(type, entry.value, `${path}.value`);
    const value = wrap(`${path}.value`, () => normalizeValue(type, raw, constraints, name));
    const variableMetadata = wrap(`${path}.metadata`, () =>
      normalizeMetadata(entry.metadata, `${path}.metadata`),
    );
    const version = checkCount(entry.version, `${path}.version`);
    const createdAt = checkTimestamp(entry.createdAt, `${path}.createdAt`);
    const updatedAt = checkTimestamp(entry.updatedAt, `${path}.updatedAt`);
    if (typeof entry.source !== "string") {
      throw invalid(`${path}.source must be a string, got ${describe(entry.source)}`);
    }
    ids.add(entry.id);
    names.add(name);
    variables.push(
      Object.freeze({
        id: entry.id,
        name,
        type,
        value,
        constraints,
        metadata: variableMetadata,
        version,
        createdAt,
        updatedAt,
        source: entry.source,
      }),
    );
  });
  return { sessionId: record.sessionId, revision, metadata, variables };
}

function checkCount(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${path} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function checkTimestamp(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalid(`${path} must be epoch milliseconds, got ${describe(value)}`);
  }
  return value;
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
