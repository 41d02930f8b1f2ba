import { StateError } from "./errors.js";
import { assertIdentifierLength } from "./identifiers.js";
import { describe, formatNumber } from "./messages.js";
import { isWellFormed } from "./unicode.js";
import type { JsonValue, Metadata } from "./variable.js";

/**
 * Validates metadata: a plain object of JSON-compatible values (finite numbers, strings,
 * booleans, null, arrays and objects of those).
 * @returns a frozen deep copy with a null prototype, so keys like `__proto__` are plain data.
 * @throws `invalid_value` naming the first offending path.
 */
export function normalizeMetadata(metadata: unknown, what = "metadata"): Metadata {
  if (metadata === undefined || metadata === null) return EMPTY_METADATA;
  if (typeof metadata !== "object" || Array.isArray(metadata) || ArrayBuffer.isView(metadata)) {
    throw new StateError("invalid_value", `${what} must be an object, got ${describe(metadata)}`);
  }
  return copyJson(metadata, what, 0) as Metadata;
}

const EMPTY_METADATA: Metadata = Object.freeze(Object.create(null) as Metadata);

function copyJson(value: unknown, path: string, depth: number): JsonValue {
  if (depth > 64) throw new StateError("invalid_value", `${path} is nested deeper than 64 levels`);
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    if (typeof value === "string" && !isWellFormed(value)) {
      throw new StateError("invalid_value", `${path} is not well-formed Unicode`);
    }
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new StateError("invalid_value", `${path} = ${formatNumber(value)} is not JSON-compatible`);
    }
    return value;
  }
  if (Array.isArray(value)) {
    return Object.freeze(value.map((item, index) => copyJson(item, `${path}[${index}]`, depth + 1)));
  }
  if (typeof value === "object" && !ArrayBuffer.isView(value)) {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new StateError("invalid_value", `${path} holds a ${describe(value)}, not a plain object`);
    }
    const copy = Object.create(null) as Record<string, JsonValue>;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      assertIdentifierLength(key, `a key of ${path.length > 80 ? `${path.slice(0, 77)}...` : path}`);
      copy[key] = copyJson(item, `${path}.${key}`, depth + 1);
    }
    return Object.freeze(copy);
  }
  throw new StateError("invalid_value", `${path} holds ${describe(value)}, which is not JSON-compatible`);
}

/** Merges metadata updates into existing metadata (shallow, update wins); frozen result. */
export function mergeMetadata(current: Metadata, update: Metadata | undefined): Metadata {
  if (update === undefined) return current;
  const keys = Object.keys(update);
  if (keys.length === 0) return current;
  const merged = Object.create(null) as Record<string, JsonValue>;
  for (const key of Object.keys(current)) merged[key] = current[key] as JsonValue;
  for (const key of keys) merged[key] = update[key] as JsonValue;
  return Object.freeze(merged);
}
