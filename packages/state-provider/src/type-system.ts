import { compilePattern } from "./constraint-pattern.js";
import type { NormalizedConstraints } from "./constraints.js";
import { StateError } from "./errors.js";
import { describe, formatNumber, listOf, preview, quote } from "./messages.js";
import { codePointLength, isWellFormed } from "./unicode.js";
import { type Tensor, VARIABLE_TYPES, type VariableType, type VariableValue } from "./variable.js";

/** Largest accepted tensor or embedding, in elements; also the largest tensor dimension. */
export const MAX_ARRAY_LENGTH = 16_777_216;
/** Most dimensions of a tensor (and of a `shape` constraint). */
export const MAX_TENSOR_RANK = 32;

/** A module name: dotted identifiers, such as `dspy.Predict`. */
export const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

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

/** Tells whether a value is a tensor dimension: an integer from 0 to {@link MAX_ARRAY_LENGTH}. */
export function isDimension(value: unknown): value is number {
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
