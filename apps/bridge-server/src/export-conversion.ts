import type { Value } from "@statebridge/proto";
import {
  decodeValue,
  type ExportedValue,
  fromWireValue,
  isStateError,
  StateError,
  type VariableType,
  type VariableValue,
} from "@statebridge/state-provider";
import { fromProtoValue, protoKindOf, toProtoValueKind } from "./wire-conversion.js";

/**
 * Converts a value of an export document into the wire oneof. Packed arrays go from base64
 * straight to bytes, without unpacking the doubles in between.
 */
export function exportedValueToProto(type: VariableType, value: ExportedValue): Value["kind"] {
  if (typeof value === "object" && "$f64" in value) {
    const data = new Uint8Array(Buffer.from(value.$f64, "base64"));
    if ("shape" in value) {
      return protoKindOf({ case: "tensorValue", value: { shape: value.shape, data } });
    }
    return { case: "embeddingValue", value: data };
  }
  // The document holds normalized values: after decoding they are ready for the wire.
  return toProtoValueKind(type, decodeValue(type, value, "value") as VariableValue);
}

/**
 * Decodes a received wire value into the raw value the type system takes, for
 * `SessionStore.importVariables`, which then normalizes it with the variable's constraints:
 * each value is checked once, and never encoded for an export document on the way.
 * @throws `invalid_export` naming `path` when the wire value does not fit the type.
 */
export function protoValueToRaw(type: VariableType, value: Value | undefined, path: string): unknown {
  try {
    const raw = fromWireValue(type, fromProtoValue(value), path);
    // Out-of-range integers stay unsafe numbers here, for the import to refuse by name.
    return typeof raw === "bigint" ? Number(raw) : raw;
  } catch (error) {
    if (isStateError(error)) {
      throw new StateError("invalid_export", `${path}: ${error.rawMessage}`, { cause: error });
    }
    throw error;
  }
}
