import { compilePattern } from "./constraint-pattern.js";
import { StateError } from "./errors.js";
import { describe } from "./messages.js";
import { isDimension, MAX_ARRAY_LENGTH, MAX_TENSOR_RANK, MODULE_NAME } from "./type-system.js";
import { isWellFormed } from "./unicode.js";
import type { Constraints, VariableType } from "./variable.js";

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
