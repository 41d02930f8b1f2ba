import { StateError } from "./errors.js";
import { packFloat64, unpackFloat64 } from "./packed.js";
import { isTensorValue } from "./type-system.js";
import type { Tensor, VariableType, VariableValue } from "./variable.js";

/**
 * The `kind` oneof of the wire's `statebridge.v1.Value`, structurally: the protobuf-es message
 * accepts it as is. Kept here so that the server and every client convert values with one
 * piece of code. Embeddings and tensor data are little-endian doubles.
 */
export type WireValueKind =
  | { readonly case: "floatValue"; readonly value: number }
  | { readonly case: "integerValue"; readonly value: bigint }
  | { readonly case: "stringValue"; readonly value: string }
  | { readonly case: "booleanValue"; readonly value: boolean }
  | { readonly case: "choiceValue"; readonly value: string }
  | { readonly case: "moduleValue"; readonly value: string }
  | { readonly case: "embeddingValue"; readonly value: Uint8Array }
  | {
      readonly case: "tensorValue";
      // protobuf-es decodes int64 as bigint (it honours only jstype JS_STRING), so a decoded
      // shape holds bigints; encoding takes numbers too.
      readonly value: { readonly shape: readonly (number | bigint)[]; readonly data: Uint8Array };
    }
  | { readonly case: undefined; readonly value?: undefined };

const CASE_OF: Record<VariableType, WireValueKind["case"]> = {
  float: "floatValue",
  integer: "integerValue",
  string: "stringValue",
  boolean: "booleanValue",
  choice: "choiceValue",
  module: "moduleValue",
  embedding: "embeddingValue",
  tensor: "tensorValue",
};

/**
 * Encodes a value for the wire in the field of `type`. The value is not validated here: the
 * receiving side normalizes it. A value whose JavaScript kind does not fit the type (a string
 * for a float) is sent in the field its kind suggests, so that the receiver refuses it with
 * the same `invalid_value` a local backend gives.
 */
export function toWireValue(type: VariableType, value: unknown): WireValueKind {
  switch (type) {
    case "float":
      if (typeof value === "number") return { case: "floatValue", value };
      if (typeof value === "bigint") return { case: "integerValue", value };
      break;
    case "integer":
      if (typeof value === "number" && Number.isInteger(value)) {
        return { case: "integerValue", value: BigInt(value) };
      }
      if (typeof value === "bigint") return { case: "integerValue", value };
      // A non-whole number travels as a float so that the server can say it is not whole.
      if (typeof value === "number") return { case: "floatValue", value };
      break;
    case "string":
    case "choice":
    case "module":
      if (typeof value === "string") return { case: CASE_OF[type], value } as WireValueKind;
      break;
    case "boolean":
      if (typeof value === "boolean") return { case: "booleanValue", value };
      break;
    case "embedding":
      if (isNumberArray(value)) return { case: "embeddingValue", value: packFloat64(value) };
      break;
    case "tensor":
      if (isTensorLike(value)) {
        return {
          case: "tensorValue",
          value: { shape: value.shape as number[], data: packFloat64(value.data as ArrayLike<number>) },
        };
      }
      break;
  }
  return guessWireValue(value);
}

function guessWireValue(value: unknown): WireValueKind {
  if (typeof value === "number") return { case: "floatValue", value };
  if (typeof value === "bigint") return { case: "integerValue", value };
  if (typeof value === "string") return { case: "stringValue", value };
  if (typeof value === "boolean") return { case: "booleanValue", value };
  if (isNumberArray(value)) return { case: "embeddingValue", value: packFloat64(value) };
  if (isTensorLike(value)) {
    return {
      case: "tensorValue",
      value: { shape: value.shape as number[], data: packFloat64(value.data as ArrayLike<number>) },
    };
  }
  return { case: undefined };
}

function isNumberArray(value: unknown): value is ArrayLike<number> {
  if (value instanceof Float64Array || value instanceof Float32Array) return true;
  return Array.isArray(value) && value.every((element) => typeof element === "number");
}

function isTensorLike(value: unknown): value is { shape: unknown; data: unknown } {
  if (typeof value !== "object" || value === null || !("shape" in value) || !("data" in value)) return false;
  const { shape, data } = value as { shape: unknown; data: unknown };
  return (
    Array.isArray(shape) &&
    shape.every((dimension) => typeof dimension === "number" && Number.isSafeInteger(dimension)) &&
    isNumberArray(data)
  );
}

/**
 * Decodes a wire value received for a variable of `type` into the raw value the type system
 * normalizes. A field that does not belong to the type is refused.
 * @throws `invalid_value` for an empty value, a field of another type, or packed bytes whose
 *   length is not a multiple of 8.
 */
export function fromWireValue(type: VariableType, kind: WireValueKind | undefined, name: string): unknown {
  const label = JSON.stringify(name);
  if (kind === undefined || kind.case === undefined) {
    throw new StateError("invalid_value", `${label} needs a ${type} value, got an empty value`);
  }
  const integerAcceptsFloat = type === "integer" && kind.case === "floatValue";
  // "Integers become floats": a client whose language has a separate int (Python) may send one.
  const floatAcceptsInteger = type === "float" && kind.case === "integerValue";
  const textType = kind.case === "stringValue" && (type === "choice" || type === "module");
  if (kind.case !== CASE_OF[type] && !integerAcceptsFloat && !floatAcceptsInteger && !textType) {
    throw new StateError(
      "invalid_value",
      `${label} needs a ${type}, got a ${kind.case.replace("Value", "")} value`,
    );
  }
  switch (kind.case) {
    case "embeddingValue": {
      const numbers = unpackFloat64(kind.value);
      if (numbers === undefined) {
        throw new StateError("invalid_value", `${label}: embedding bytes are not whole 8-byte doubles`);
      }
      return numbers;
    }
    case "tensorValue": {
      const data = unpackFloat64(kind.value.data);
      if (data === undefined) {
        throw new StateError("invalid_value", `${label}: tensor data bytes are not whole 8-byte doubles`);
      }
      return { shape: Array.from(kind.value.shape, Number), data };
    }
    default:
      return kind.value;
  }
}

/**
 * Decodes a wire value that a trusted peer (the server) already normalized, without a type to
 * check against: arrays and tensors come back frozen, integers as numbers.
 * @returns `undefined` for an empty value.
 */
export function decodeWireValue(kind: WireValueKind | undefined): VariableValue | undefined {
  if (kind === undefined) return undefined;
  switch (kind.case) {
    case undefined:
      return undefined;
    case "integerValue":
      return Number(kind.value);
    case "embeddingValue":
      return Object.freeze(unpackFloat64(kind.value) ?? []);
    case "tensorValue":
      return Object.freeze({
        shape: Object.freeze(Array.from(kind.value.shape, Number)),
        data: Object.freeze(unpackFloat64(kind.value.data) ?? []),
      }) as Tensor;
    default:
      return kind.value;
  }
}

/** Encodes a normalized value in the field of its type. */
export function encodeWireValue(type: VariableType, value: VariableValue): WireValueKind {
  if (type === "tensor" && isTensorValue(value)) {
    return { case: "tensorValue", value: { shape: value.shape, data: packFloat64(value.data) } };
  }
  return toWireValue(type, value);
}
