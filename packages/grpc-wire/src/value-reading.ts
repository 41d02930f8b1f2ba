import type { TensorValue, Value } from "@statebridge/proto";
import { type ProtobufReader, UNUSUAL_ENCODING } from "./protobuf-reading.js";

// The one reader of `statebridge.v1.Value` for the hand-written decoders (the client's
// GetVariable(s) responses, the server's SetVariable(s) requests), each held to `fromBinary`
// by its differential test. It reads the form protobuf-es and the Python client write: at most
// one member of the oneof (protobuf-es keeps the last of several), a packed tensor shape, each
// tensor field at most once; anything else throws UNUSUAL_ENCODING, leaving the message to
// fromBinary.

/**
 * Reads a Value whose bytes end at `end`, as `fromBinary` does.
 * @throws UNUSUAL_ENCODING for a form left to fromBinary.
 */
export function readValue(reader: ProtobufReader, end: number): Value {
  const value = { $typeName: "statebridge.v1.Value", kind: { case: undefined } } as Value;
  if (reader.position === end) return value;
  const tag = reader.byte();
  switch (tag) {
    case 0x09:
      value.kind = { case: "floatValue", value: reader.double() };
      break;
    case 0x10:
      value.kind = { case: "integerValue", value: reader.int64() };
      break;
    case 0x1a:
      value.kind = { case: "stringValue", value: reader.string() };
      break;
    case 0x20:
      value.kind = { case: "booleanValue", value: readBoolean(reader) };
      break;
    case 0x2a:
      value.kind = { case: "choiceValue", value: reader.string() };
      break;
    case 0x32:
      value.kind = { case: "moduleValue", value: reader.string() };
      break;
    case 0x3a:
      value.kind = { case: "embeddingValue", value: reader.bytes() };
      break;
    case 0x42:
      value.kind = { case: "tensorValue", value: readTensor(reader, reader.lengthEnd()) };
      break;
    default:
      throw UNUSUAL_ENCODING;
  }
  if (reader.position !== end) throw UNUSUAL_ENCODING;
  return value;
}

/**
 * A bool as protobuf writes one (0 or 1).
 * @throws UNUSUAL_ENCODING for any other varint, left to fromBinary.
 */
export function readBoolean(reader: ProtobufReader): boolean {
  const flag = reader.byte();
  if (flag > 1) throw UNUSUAL_ENCODING;
  return flag === 1;
}

/** A TensorValue with a packed shape, each field at most once. */
function readTensor(reader: ProtobufReader, end: number): TensorValue {
  const tensor: TensorValue = { $typeName: "statebridge.v1.TensorValue", shape: [], data: new Uint8Array(0) };
  let shapeRead = false;
  let dataRead = false;
  while (reader.position < end) {
    const tag = reader.byte();
    if (tag === 0x0a && !shapeRead) {
      shapeRead = true;
      const shapeEnd = reader.lengthEnd();
      while (reader.position < shapeEnd) tensor.shape.push(reader.int64());
      if (reader.position !== shapeEnd) throw UNUSUAL_ENCODING;
    } else if (tag === 0x12 && !dataRead) {
      dataRead = true;
      tensor.data = reader.bytes();
    } else {
      throw UNUSUAL_ENCODING;
    }
  }
  if (reader.position !== end) throw UNUSUAL_ENCODING;
  return tensor;
}
