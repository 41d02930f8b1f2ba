import {
  isVariableType,
  isWellFormed,
  normalizeMetadata,
  normalizeValue,
  StateError,
  toWireValue,
  type VariableType,
  validateConstraints,
} from "@statebridge/state-provider";
import type { TypeCache } from "./type-cache.js";
import type { WireValueInit } from "./wire-variable.js";

/** One of the wire's value fields, with its value. */
export type WireValueKind = NonNullable<WireValueInit>;

/** A value's wire form: in its variable's field if the type is cached, else per its kind. */
export interface Encoding {
  readonly kind: WireValueKind;
  /** The field the value's JavaScript kind suggests, which every type of that kind accepts. */
  readonly fallback: WireValueKind;
  /** True when the cached type chose a field other than the fallback. */
  readonly fromCache: boolean;
}

/**
 * Encodes `value` for `identifier`: in the field of its cached type if `types` knows it, with
 * the field its JavaScript kind suggests as the fallback when that cached type is stale.
 */
export function encodeFor(types: TypeCache, identifier: string, value: unknown): Encoding {
  const fallback = encodeValue(identifier, typeOfKind(value), value);
  const cached = types.get(identifier);
  if (cached === undefined) return { kind: fallback, fallback, fromCache: false };
  const kind = encodeValue(identifier, cached, value);
  return { kind, fallback, fromCache: kind.case !== fallback.case };
}

/**
 * Puts a value in the wire field of `type` (see `toWireValue`). Text with a lone surrogate is
 * refused here, as every backend refuses it: UTF-8 cannot carry it, and the server would
 * otherwise receive U+FFFD in its place and accept a different value.
 */
export function encodeValue(identifier: string, type: string, value: unknown): WireValueKind {
  if (typeof value === "string" && !isWellFormed(value)) {
    throw new StateError(
      "invalid_value",
      `${JSON.stringify(identifier)}: the value is not well-formed Unicode (it has a lone surrogate)`,
    );
  }
  const kind = toWireValue(type as VariableType, value) as WireValueKind;
  if (kind.case === "integerValue" && (kind.value > INT64_MAX || kind.value < INT64_MIN)) {
    // int64 cannot carry it. A number goes as a float, which the server refuses as outside
    // the safe range (or accepts, for a float variable); a bigint that large is refused here
    // by the shared type system, as every backend refuses it.
    if (typeof value === "number") return { case: "floatValue", value };
    normalizeValue("integer", value, {}, identifier);
  }
  return kind;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * The type whose wire field a value's JavaScript kind suggests. The server accepts a number
 * sent as a float for an integer variable, and text sent as a string for a choice or module,
 * so this field is right for every type the value could belong to.
 */
function typeOfKind(value: unknown): VariableType {
  if (typeof value === "bigint") return "integer";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "boolean";
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return "embedding";
  if (typeof value === "object" && value !== null) return "tensor";
  return "float";
}

/**
 * A variable's constraints as the wire's JSON text, checked with the shared type system (""
 * for none).
 */
export function encodeConstraints(type: string, constraints: unknown): string {
  if (!isVariableType(type)) {
    // The server refuses the type first; the constraints only need to travel.
    return constraints === undefined || constraints === null ? "" : (JSON.stringify(constraints) ?? "");
  }
  const validated = validateConstraints(type, constraints);
  return Object.keys(validated).length === 0 ? "" : JSON.stringify(validated);
}

/** Metadata as the wire's JSON text, normalized like every backend does ("" for none). */
export function encodeMetadata(metadata: unknown): string {
  if (metadata === undefined) return "";
  const normalized = normalizeMetadata(metadata);
  return Object.keys(normalized).length === 0 ? "" : JSON.stringify(normalized);
}
