import { ProtobufReader, UNUSUAL_ENCODING } from "@statebridge/grpc-wire";
import type {
  SetVariableRequest,
  SetVariablesRequest,
  TensorValue,
  Value,
  VariableUpdate,
} from "@statebridge/proto";

// The requests of the writes, SetVariable and SetVariables, read without protobuf-es's
// reflection on the direct path, as request-decoding.ts reads the gets. The result is what
// `fromBinary` returns for the same bytes, held so by test/set-request-decoding.test.ts over
// generated requests and mutated bytes. Top-level fields may come in any order and a repeated
// singular string or number field's last value wins, as in protobuf-es; a message field given
// twice (which protobuf-es merges), a Value with two members of its oneof, unpacked tensor
// shapes, negative or long varints, unknown fields, other wire types and invalid UTF-8 return
// undefined and are left to fromBinary.

/** Reads a SetVariableRequest as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeSetVariableRequest(bytes: Uint8Array): SetVariableRequest | undefined {
  const request: SetVariableRequest = {
    $typeName: "statebridge.v1.SetVariableRequest",
    sessionId: "",
    identifier: "",
    metadataJson: "",
    source: "",
  };
  const reader = new ProtobufReader(bytes);
  try {
    while (reader.position < reader.end) {
      const tag = reader.byte();
      if (tag === 0x0a) request.sessionId = reader.string();
      else if (tag === 0x12) request.identifier = reader.string();
      else if (tag === 0x1a && request.value === undefined)
        request.value = readValue(reader, reader.lengthEnd());
      else if (tag === 0x22) request.metadataJson = reader.string();
      else if (tag === 0x28) request.expectedVersion = reader.int64();
      else if (tag === 0x32) request.source = reader.string();
      else return undefined;
    }
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
  return request;
}

/** Reads a SetVariablesRequest as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeSetVariablesRequest(bytes: Uint8Array): SetVariablesRequest | undefined {
  const request: SetVariablesRequest = {
    $typeName: "statebridge.v1.SetVariablesRequest",
    sessionId: "",
    updates: [],
    metadataJson: "",
    atomic: false,
    source: "",
  };
  const reader = new ProtobufReader(bytes);
  try {
    while (reader.position < reader.end) {
      const tag = reader.byte();
      if (tag === 0x0a) request.sessionId = reader.string();
      else if (tag === 0x12) request.updates.push(readUpdate(reader, reader.lengthEnd()));
      else if (tag === 0x1a) request.metadataJson = reader.string();
      else if (tag === 0x20) request.atomic = readBoolean(reader);
      else if (tag === 0x2a) request.source = reader.string();
      else return undefined;
    }
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
  return request;
}

function readUpdate(reader: ProtobufReader, end: number): VariableUpdate {
  const update: VariableUpdate = { $typeName: "statebridge.v1.VariableUpdate", identifier: "" };
  while (reader.position < end) {
    const tag = reader.byte();
    if (tag === 0x0a) update.identifier = reader.string();
    else if (tag === 0x12 && update.value === undefined) update.value = readValue(reader, reader.lengthEnd());
    else throw UNUSUAL_ENCODING;
  }
  if (reader.position !== end) throw UNUSUAL_ENCODING;
  return update;
}

/** A bool written as protobuf writes one (0 or 1); any other varint is left to protobuf-es. */
function readBoolean(reader: ProtobufReader): boolean {
  const flag = reader.byte();
  if (flag > 1) throw UNUSUAL_ENCODING;
  return flag === 1;
}

/** A Value with at most one member of its oneof (protobuf-es keeps the last of several). */
function readValue(reader: ProtobufReader, end: number): Value {
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
