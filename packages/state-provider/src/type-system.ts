import { compilePattern } from "./constraint-pattern.js";
import { StateError } from "./errors.js";
import {
  type Constraints,
  type JsonValue,
  type Metadata,
  type Tensor,
  VARIABLE_TYPES,
  type VariableType,
  type VariableValue,
} from "./variable.js";

/**
 * Longest accepted identifier, in UTF-16 code units: a variable name or id given to any
 * operation, a metadata key, a write's source. Longer ones are refused with `invalid_value`
 * before they are looked up, stored or echoed.
 */
export const MAX_IDENTIFIER_LENGTH = 1024;
/** Longest accepted variable name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = MAX_IDENTIFIER_LENGTH;
/** Largest accepted tensor or embedding, in elements; also the largest tensor dimension. */
export const MAX_ARRAY_LENGTH = 16_777_216;
/** Most dimensions of a tensor (and of a `shape` constraint). */
export const MAX_TENSOR_RANK = 32;

/** The id of a variable: `var_` and 24 lowercase hex digits. Names of this shape are refused. */
export const ID_PATTERN = /^var_[0-9a-f]{24}$/;

const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const ALLOWED_KEYS: Record<VariableType, readonly (keyof Constraints)[]> = {
  float: ["min", "max"],
  integer: ["min", "max"],
  string: ["minLength", "maxLength", "pattern", "enum"],
  boolean: [],
  choice: ["choices"],
  module: ["choices", "pattern", "namespace"],
  embedding: ["dimensions"],
  tensor: ["shape"],
};

/** Tells whether a value names one of the eight types. */
export function isVariableType(value: unknown): value is VariableType {
  return typeof value === "string" && (VARIABLE_TYPES as readonly string[]).includes(value);
}

/**
 * Checks a type name.
 * @throws `invalid_type` naming the type and the accepted ones.
 */
export function assertVariableType(value: unknown): VariableType {
  if (isVariableType(value)) return value;
  throw new StateError(
    "invalid_type",
    `unknown type ${describe(value)}; expected one of ${VARIABLE_TYPES.join(", ")}`,
  );
}

/**
 * Refuses a string identifier longer than {@link MAX_IDENTIFIER_LENGTH}; anything else passes
 * (what is wrong with a non-string is for the caller's own check to say).
 * @param what - what the identifier is, for the message, such as `"a variable identifier"`.
 * @throws `invalid_value` naming the length, not echoing the identifier.
 */
export function assertIdentifierLength(identifier: unknown, what = "an identifier"): void {
  if (typeof identifier === "string" && identifier.length > MAX_IDENTIFIER_LENGTH) {
    throw new StateError(
      "invalid_value",
      `${what} must be at most ${MAX_IDENTIFIER_LENGTH} characters, got ${identifier.length}`,
    );
  }
}

/** Tells whether a string has the shape of a variable id. */
export function isIdShaped(value: string): boolean {
  return ID_PATTERN.test(value);
}

/**
 * Checks a variable name: a non-empty, well-formed Unicode string of at most
 * {@link MAX_NAME_LENGTH} code units that is not shaped like an id.
 * @throws `invalid_value`.
 */
export function assertVariableName(name: unknown): string {
  if (typeof name !== "string") {
    throw new StateError("invalid_value", `a variable name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new StateError("invalid_value", "a variable name must not be empty");
  if (name.length > MAX_NAME_LENGTH) {
    throw new StateError(
      "invalid_value",
      `a variable name must be at most ${MAX_NAME_LENGTH} characters, got ${name.length}`,
    );
  }
  if (!isWellFormed(name)) {
    throw new StateError(
      "invalid_value",
      "a variable name must be well-formed Unicode (it has a lone surrogate)",
    );
  }
  if (isIdShaped(name)) {
    throw new StateError(
      "invalid_value",
      `name ${JSON.stringify(name)} is shaped like a variable id and would be ambiguous`,
    );
  }
  return name;
}

/** Frozen, validated constraints, as a provider stores them. */
export type NormalizedConstraints = Constraints;

/**
 * Validates a constraint spec for a type, at register time.
 * @returns a frozen copy holding only the given keys.
 * @throws `invalid_value` for an unknown key, a value of the wrong kind, min > max, a negative
 *   length or dimension, a pattern that does not compile, empty or duplicate choices, or a
 *   choice/enum that its other constraints refuse.
 */
export function validateConstraints(type: VariableType, constraints: unknown): NormalizedConstraints {
  if (constraints === undefined || constraints === null) {
    if (type === "choice") {
      throw new StateError("invalid_value", "a choice variable needs constraints.choices");
    }
    return EMPTY_CONSTRAINTS;
  }
  if (typeof constraints !== "object" || Array.isArray(constraints)) {
    throw new StateError("invalid_value", `constraints must be an object, got ${describe(constraints)}`);
  }
  const source = constraints as Record<string, unknown>;
  const allowed = ALLOWED_KEYS[type];
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    if (!(allowed as readonly string[]).includes(key)) {
      throw new StateError(
        "invalid_value",
        `constraint ${JSON.stringify(key)} does not apply to type ${type}` +
          (allowed.length > 0 ? ` (allowed: ${allowed.join(", ")})` : " (it takes none)"),
      );
    }
    result[key] = checkConstraint(key as keyof Constraints, value);
  }
  if (typeof result.min === "number" && typeof result.max === "number" && result.min > result.max) {
    throw new StateError("invalid_value", `constraint min ${result.min} is above max ${result.max}`);
  }
  if (type === "integer") {
    for (const key of ["min", "max"] as const) {
      if (typeof result[key] === "number" && !Number.isInteger(result[key])) {
        throw new StateError(
          "invalid_value",
          `constraint ${key} of an integer must be whole, got ${result[key]}`,
        );
      }
    }
  }
  if (
    typeof result.minLength === "number" &&
    typeof result.maxLength === "number" &&
    result.minLength > result.maxLength
  ) {
    throw new StateError(
      "invalid_value",
      `constraint minLength ${result.minLength} is above maxLength ${result.maxLength}`,
    );
  }
  if (type === "choice" && result.choices === undefined) {
    throw new StateError("invalid_value", "a choice variable needs constraints.choices");
  }
  if (type === "module" && Array.isArray(result.choices)) {
    for (const choice of result.choices as string[]) {
      if (!MODULE_NAME.test(choice)) {
        throw new StateError("invalid_value", `module choice ${JSON.stringify(choice)} is not a module name`);
      }
    }
  }
  if (type === "module" && typeof result.namespace === "string" && !MODULE_NAME.test(result.namespace)) {
    throw new StateError(
      "invalid_value",
      `namespace ${JSON.stringify(result.namespace)} is not a module name`,
    );
  }
  return Object.freeze(result) as NormalizedConstraints;
}

const EMPTY_CONSTRAINTS: NormalizedConstraints = Object.freeze({});

function checkConstraint(key: keyof Constraints, value: unknown): unknown {
  switch (key) {
    case "min":
    case "max":
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new StateError(
          "invalid_value",
          `constraint ${key} must be a finite number, got ${describe(value)}`,
        );
      }
      return value;
    case "minLength":
    case "maxLength":
    case "dimensions":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        throw new StateError(
          "invalid_value",
          `constraint ${key} must be a non-negative integer, got ${describe(value)}`,
        );
      }
      return value;
    case "pattern":
      if (typeof value !== "string") {
        throw new StateError("invalid_value", `constraint pattern must be a string, got ${describe(value)}`);
      }
      compilePattern(value);
      return value;
    case "namespace":
      if (typeof value !== "string" || value.length === 0) {
        throw new StateError(
          "invalid_value",
          `constraint namespace must be a non-empty string, got ${describe(value)}`,
        );
      }
      return value;
    case "enum":
    case "choices": {
      if (!Array.isArray(value)) {
        throw new StateError(
          "invalid_value",
          `constraint ${key} must be an array of strings, got ${describe(value)}`,
        );
      }
      if (value.length === 0) throw new StateError("invalid_value", `constraint ${key} must not be empty`);
      const seen = new Set<string>();
      for (const item of value) {
        if (typeof item !== "string" || !isWellFormed(item)) {
          throw new StateError(
            "invalid_value",
            `constraint ${key} must hold only strings, got ${describe(item)}`,
          );
        }
        if (seen.has(item)) {
          throw new StateError("invalid_value", `constraint ${key} lists ${JSON.stringify(item)} twice`);
        }
        seen.add(item);
      }
      return Object.freeze([...value]);
    }
    case "shape": {
      if (!Array.isArray(value)) {
        throw new StateError(
          "invalid_value",
          `constraint shape must be an array of integers, got ${describe(value)}`,
        );
      }
      if (value.length > MAX_TENSOR_RANK) {
        throw new StateError(
          "invalid_value",
          `constraint shape has ${value.length} dimensions, more than ${MAX_TENSOR_RANK}`,
        );
      }
      for (const dimension of value) {
        if (!isDimension(dimension)) {
          throw new StateError(
            "invalid_value",
            `constraint shape must hold integers from 0 to ${MAX_ARRAY_LENGTH}, got ${describe(dimension)} in [${value.map(String).join(", ")}]`,
          );
        }
      }
      return Object.freeze([...value]);
    }
  }
}

/**
 * Normalizes and validates a value for a type and its constraints. This is the one place
 * every backend and the server decide what a variable accepts.
 *
 * - float: any number; NaN and ±Infinity are allowed and skip min/max. A bigint within
 *   ±(2^53−1) becomes a number; a larger one is refused rather than rounded.
 * - integer: a safe integer, or a whole-number float; a bigint within ±(2^53−1).
 * - boolean: only `true` and `false` (no `"true"`, `1`).
 * - embedding: an array, Float32Array or Float64Array of finite numbers → frozen `number[]`.
 * - tensor: `{ shape, data }` with `data.length` = product of `shape` → frozen.
 *
 * @param name - the variable's name, for messages.
 * @returns the normalized value (arrays and tensors frozen and copied).
 * @throws `invalid_value` for a value of the wrong kind; `constraint_violation` for one its
 *   constraints refuse. The message names the variable, the value and the bound.
 */
export function normalizeValue(
  type: VariableType,
  value: unknown,
  constraints: NormalizedConstraints,
  name: string,
): VariableValue {
  switch (type) {
    case "float": {
      if (typeof value === "bigint") {
        // Integers become floats, bigints too, but only where a double holds them exactly.
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw outOfSafeRange(name, value);
        }
        const number = Number(value);
        checkRange(name, number, constraints);
        return number;
      }
      if (typeof value !== "number") throw wrongKind(name, "float", value);
      if (Number.isFinite(value)) checkRange(name, value, constraints);
      return value;
    }
    case "integer": {
      let number: number;
      if (typeof value === "bigint") {
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw outOfSafeRange(name, value);
        }
        number = Number(value);
      } else if (typeof value === "number") {
        if (!Number.isFinite(value) || !Number.isInteger(value)) {
          throw new StateError(
            "invalid_value",
            `${quote(name)} = ${formatNumber(value)} is not a whole number; an integer is required`,
          );
        }
        if (!Number.isSafeInteger(value)) throw outOfSafeRange(name, value);
        number = value === 0 ? 0 : value;
      } else {
        throw wrongKind(name, "integer", value);
      }
      checkRange(name, number, constraints);
      return number;
    }
    case "boolean":
      if (typeof value !== "boolean") throw wrongKind(name, "boolean", value);
      return value;
    case "string": {
      const text = checkString(name, "string", value);
      if (constraints.minLength !== undefined || constraints.maxLength !== undefined) {
        const length = codePointLength(text);
        if (constraints.minLength !== undefined && length < constraints.minLength) {
          throw violation(
            `${quote(name)} has ${length} characters, below minLength ${constraints.minLength}`,
          );
        }
        if (constraints.maxLength !== undefined && length > constraints.maxLength) {
          throw violation(
            `${quote(name)} has ${length} characters, above maxLength ${constraints.maxLength}`,
          );
        }
      }
      if (constraints.pattern !== undefined && !compilePattern(constraints.pattern).test(text)) {
        throw violation(
          `${quote(name)} = ${preview(text)} does not match pattern ${JSON.stringify(constraints.pattern)}`,
        );
      }
      if (constraints.enum !== undefined && !constraints.enum.includes(text)) {
        throw violation(`${quote(name)} = ${preview(text)} is not one of ${listOf(constraints.enum)}`);
      }
      return text;
    }
    case "choice": {
      const text = checkString(name, "choice", value);
      if (constraints.choices !== undefined && !constraints.choices.includes(text)) {
        throw violation(`${quote(name)} = ${preview(text)} is not one of ${listOf(constraints.choices)}`);
      }
      return text;
    }
    case "module": {
      const text = checkString(name, "module", value);
      if (!MODULE_NAME.test(text)) {
        throw new StateError(
          "invalid_value",
          `${quote(name)} = ${preview(text)} is not a module name (dotted identifiers, such as "dspy.Predict")`,
        );
      }
      if (constraints.choices !== undefined && !constraints.choices.includes(text)) {
        throw violation(`${quote(name)} = ${preview(text)} is not one of ${listOf(constraints.choices)}`);
      }
      if (constraints.pattern !== undefined && !compilePattern(constraints.pattern).test(text)) {
        throw violation(
          `${quote(name)} = ${preview(text)} does not match pattern ${JSON.stringify(constraints.pattern)}`,
        );
      }
      if (
        constraints.namespace !== undefined &&
        text !== constraints.namespace &&
        !text.startsWith(`${constraints.namespace}.`)
      ) {
        throw violation(
          `${quote(name)} = ${preview(text)} is outside namespace ${JSON.stringify(constraints.namespace)}`,
        );
      }
      return text;
    }
    case "embedding": {
      const vector = toNumberArray(name, "embedding", value, true);
      if (constraints.dimensions !== undefined && vector.length !== constraints.dimensions) {
        throw violation(
          `${quote(name)} has ${vector.length} dimensions; the embedding needs exactly ${constraints.dimensions}`,
        );
      }
      return Object.freeze(vector);
    }
    case "tensor":
      return normalizeTensor(name, value, constraints);
  }
}

function normalizeTensor(name: string, value: unknown, constraints: NormalizedConstraints): Tensor {
  if (typeof value !== "object" || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw wrongKind(name, "tensor ({ shape, data })", value);
  }
  const candidate = value as { shape?: unknown; data?: unknown };
  if (!Array.isArray(candidate.shape)) {
    throw new StateError("invalid_value", `${quote(name)}: a tensor needs shape, an array of integers`);
  }
  const shape = candidate.shape as unknown[];
  if (shape.length > MAX_TENSOR_RANK) {
    throw new StateError(
      "invalid_value",
      `${quote(name)}: a tensor has at most ${MAX_TENSOR_RANK} dimensions, got ${shape.length}`,
    );
  }
  let size = 1;
  for (const dimension of shape) {
    if (!isDimension(dimension)) {
      throw new StateError(
        "invalid_value",
        `${quote(name)}: tensor shape must hold integers from 0 to ${MAX_ARRAY_LENGTH}, got ${describe(dimension)}`,
      );
    }
    size *= dimension;
  }
  const data = toNumberArray(name, "tensor data", candidate.data, false);
  if (data.length !== size) {
    throw new StateError(
      "invalid_value",
      `${quote(name)}: tensor shape [${shape.join(", ")}] needs ${size} elements, data has ${data.length}`,
    );
  }
  if (constraints.shape !== undefined) {
    const expected = constraints.shape;
    const same =
      expected.length === shape.length && expected.every((dimension, index) => dimension === shape[index]);
    if (!same) {
      throw violation(
        `${quote(name)} has shape [${shape.join(", ")}]; the tensor needs shape [${expected.join(", ")}]`,
      );
    }
  }
  return Object.freeze({
    shape: Object.freeze([...(shape as number[])]),
    data: Object.freeze(data),
  });
}

function isDimension(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_ARRAY_LENGTH;
}

function toNumberArray(name: string, what: string, value: unknown, finite: boolean): number[] {
  let result: number[];
  if (value instanceof Float64Array || value instanceof Float32Array) {
    if (value.length > MAX_ARRAY_LENGTH) throw tooLong(name, what, value.length);
    result = Array.from(value);
  } else if (Array.isArray(value)) {
    if (value.length > MAX_ARRAY_LENGTH) throw tooLong(name, what, value.length);
    result = new Array<number>(value.length);
    for (let index = 0; index < value.length; index++) {
      const element: unknown = value[index];
      if (typeof element !== "number") {
        throw new StateError(
          "invalid_value",
          `${quote(name)}: ${what} element ${index} is ${describe(element)}, not a number`,
        );
      }
      result[index] = element;
    }
  } else {
    throw wrongKind(
      name,
      what === "embedding" ? "embedding (number[], Float32Array or Float64Array)" : what,
      value,
    );
  }
  if (finite) {
    for (let index = 0; index < result.length; index++) {
      if (!Number.isFinite(result[index])) {
        throw new StateError(
          "invalid_value",
          `${quote(name)}: ${what} element ${index} is ${formatNumber(result[index] as number)}; embeddings hold finite numbers`,
        );
      }
    }
  }
  return result;
}

function checkString(name: string, type: string, value: unknown): string {
  if (typeof value !== "string") throw wrongKind(name, type, value);
  if (!isWellFormed(value)) {
    throw new StateError(
      "invalid_value",
      `${quote(name)}: the ${type} is not well-formed Unicode (it has a lone surrogate)`,
    );
  }
  return value;
}

function checkRange(name: string, value: number, constraints: NormalizedConstraints): void {
  if (constraints.min !== undefined && value < constraints.min) {
    throw violation(`${quote(name)} = ${formatNumber(value)} is below min ${constraints.min}`);
  }
  if (constraints.max !== undefined && value > constraints.max) {
    throw violation(`${quote(name)} = ${formatNumber(value)} is above max ${constraints.max}`);
  }
}

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

/**
 * Checks an `expectedVersion` option.
 * @throws `invalid_value` unless it is a non-negative safe integer.
 */
export function assertExpectedVersion(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StateError(
      "invalid_value",
      `expectedVersion must be a non-negative integer, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Compares two normalized values exactly: NaN equals NaN, -0 differs from 0, arrays and
 * tensors element by element.
 */
export function valuesEqual(left: VariableValue | undefined, right: VariableValue | undefined): boolean {
  if (typeof left === "number" && typeof right === "number") return Object.is(left, right);
  if (Array.isArray(left) && Array.isArray(right)) return numbersEqual(left, right);
  if (isTensorValue(left) && isTensorValue(right)) {
    return numbersEqual(left.shape, right.shape) && numbersEqual(left.data, right.data);
  }
  return left === right;
}

function numbersEqual(left: readonly number[], right: readonly number[]): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) {
    if (!Object.is(left[index], right[index])) return false;
  }
  return true;
}

/** Tells whether a normalized value is a tensor. */
export function isTensorValue(value: unknown): value is Tensor {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "shape" in value;
}

/** Length in Unicode code points. */
export function codePointLength(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
    length++;
  }
  return length;
}

function isWellFormed(text: string): boolean {
  // String.prototype.isWellFormed is Node 20+, but its typings need lib ES2024.
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function wrongKind(name: string, type: string, value: unknown): StateError {
  return new StateError("invalid_value", `${quote(name)} needs a ${type}, got ${describe(value)}`);
}

function outOfSafeRange(name: string, value: number | bigint): StateError {
  return new StateError(
    "invalid_value",
    `${quote(name)} = ${String(value)} is outside the safe integer range ±(2^53−1)`,
  );
}

function tooLong(name: string, what: string, length: number): StateError {
  return new StateError(
    "invalid_value",
    `${quote(name)}: ${what} has ${length} elements, more than ${MAX_ARRAY_LENGTH}`,
  );
}

function violation(message: string): StateError {
  return new StateError("constraint_violation", message);
}

function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

function listOf(values: readonly string[]): string {
  const shown = values.slice(0, 10).map((value) => JSON.stringify(value));
  return `[${shown.join(", ")}${values.length > 10 ? ", ..." : ""}]`;
}

function formatNumber(value: number): string {
  return Object.is(value, -0) ? "-0" : String(value);
}

/** A short description of any value for error messages: its kind and, if small, itself. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `string ${preview(value)}`;
  if (typeof value === "number") return `number ${formatNumber(value)}`;
  if (typeof value === "bigint") return `bigint ${value}`;
  if (typeof value === "boolean") return `boolean ${value}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    return prototype === null || prototype === Object.prototype
      ? "object"
      : (prototype.constructor?.name ?? "object");
  }
  return typeof value;
}
