import type { Value } from "@statebridge/proto";
import {
  decodeValue,
  type ExportedValue,
  encodeValue,
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
 * Converts a received wire value into the export document's encoding, for
 * `SessionStore.importSession`, which validates it again with the variable's constraints.
 * @throws `invalid_export` naming `path` when the wire value does not fit the type.
 */
export function protoValueToExported(
  type: VariableType,
  value: Value | undefined,
  path: string,
): ExportedValue {
  try {
    const raw = fromWireValue(type, fromProtoValue(value), path);
    if (type === "embedding" || type === "tensor") {
      // The packed bytes are what the document holds: base64 them as they are.
      const kind = value?.kind;
      if (kind?.case === "embeddingValue") return { $f64: Buffer.from(kind.value).toString("base64") };
      if (kind?.case === "tensorValue") {
        return {
          shape: (raw as { shape: number[] }).shape,
          $f64: Buffer.from(kind.value.data).toString("base64"),
        };
      }
    }
    if (typeof raw === "bigint") {
      // Out-of-range integers stay unsafe numbers here, for the import to refuse by name.
      return Number(raw);
    }
    return encodeValue(type, raw as never);
  } catch (error) {
    if (isStateError(error)) {
      throw new StateError("invalid_export", `${path}: ${error.rawMessage}`, { cause: error });
    }
    throw error;
  }
}
