import {
  allocateEnvelope,
  ENVELOPE_HEADER_BYTES,
  stringFieldSize,
  varintSize,
  writeStringField,
  writeVarint,
} from "@statebridge/grpc-wire";
import type {
  GetVariableResponse,
  GetVariablesResponse,
  TensorValue,
  Value,
  Variable,
} from "@statebridge/proto";

// The responses of GetVariable and GetVariables written straight into one buffer, for the
// direct gRPC path. protobuf-es's writer forks a chunk list per nested message and copies
// every string through TextEncoder: for GetVariables(100) that was ~25 µs of server CPU per
// variable. The bytes are exactly those of `toBinary` (held so by
// test/variable-encoding.test.ts over generated messages); anything this module does not
// expect (unknown fields, an int64 that is not a bigint in range) is left to protobuf-es.

const TWO_TO_63 = 2n ** 63n;
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Encodes a GetVariableResponse as `toBinary(GetVariableResponseSchema, message)` does, framed
 * as one uncompressed gRPC envelope.
 * @returns undefined for a message this encoder leaves to protobuf-es.
 */
export function encodeGetVariableResponseEnvelope(message: GetVariableResponse): Buffer | undefined {
  if (message.$unknown !== undefined) return undefined;
  const variable = message.variable;
  let length = 0;
  let variableLength = 0;
  if (variable !== undefined) {
    const size = variableSize(variable);
    if (size < 0) return undefined;
    variableLength = size;
    length = 1 + varintSize(size) + size;
  }
  const buffer = allocateEnvelope(length);
  if (variable !== undefined) {
    let offset = ENVELOPE_HEADER_BYTES;
    buffer[offset++] = 0x0a;
    offset = writeVarint(buffer, offset, variableLength);
    writeVariable(buffer, offset, variable);
  }
  return buffer;
}

/**
 * Encodes a GetVariablesResponse as `toBinary(GetVariablesResponseSchema, message)` does
 * (map entries in the object's own key order, as protobuf-es iterates them), framed as one
 * uncompressed gRPC envelope.
 * @returns undefined for a message this encoder leaves to protobuf-es.
 */
export function encodeGetVariablesResponseEnvelope(message: GetVariablesResponse): Buffer | undefined {
  if (message.$unknown !== undefined) return undefined;
  const keys = Object.keys(message.variables);
  const sizes: number[] = new Array(keys.length);
  let length = 0;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const variable = message.variables[key] as Variable;
    const size = variableSize(variable);
    if (size < 0) return undefined;
    sizes[index] = size;
    const entry = stringFieldSize(key) + 1 + varintSize(size) + size;
    length += 1 + varintSize(entry) + entry;
  }
  for (const missing of message.missing) length += stringFieldSize(missing);
  const buffer = allocateEnvelope(length);
  let offset = ENVELOPE_HEADER_BYTES;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const size = sizes[index] as number;
    buffer[offset++] = 0x0a;
    offset = writeVarint(buffer, offset, stringFieldSize(key) + 1 + varintSize(size) + size);
    offset = writeStringField(buffer, offset, 0x0a, key);
    buffer[offset++] = 0x12;
    offset = writeVarint(buffer, offset, size);
    offset = writeVariable(buffer, offset, message.variables[key] as Variable);
  }
  for (const missing of message.missing) offset = writeStringField(buffer, offset, 0x12, missing);
  return buffer;
}

/** The encoded size of a Variable, or -1 when it is left to protobuf-es. */
function variableSize(variable: Variable): number {
  if (variable.$unknown !== undefined) return -1;
  const value = variable.value;
  let valueSize = 0;
  if (value !== undefined) {
    valueSize = valueMessageSize(value);
    if (valueSize < 0) return -1;
    valueSize += 1 + varintSize(valueSize);
  }
  const version = int64Size(variable.version);
  const createdAt = int64Size(variable.createdAtMs);
  const updatedAt = int64Size(variable.updatedAtMs);
  if (version < 0 || createdAt < 0 || updatedAt < 0) return -1;
  return (
    optionalStringFieldSize(variable.id) +
    optionalStringFieldSize(variable.name) +
    optionalStringFieldSize(variable.type) +
    valueSize +
    optionalStringFieldSize(variable.constraintsJson) +
    optionalStringFieldSize(variable.metadataJson) +
    (version === 0 ? 0 : 1 + version) +
    (createdAt === 0 ? 0 : 1 + createdAt) +
    (updatedAt === 0 ? 0 : 1 + updatedAt) +
    optionalStringFieldSize(variable.source)
  );
}

function writeVariable(buffer: Buffer, start: number, variable: Variable): number {
  let offset = start;
  if (variable.id !== "") offset = writeStringField(buffer, offset, 0x0a, variable.id);
  if (variable.name !== "") offset = writeStringField(buffer, offset, 0x12, variable.name);
  if (variable.type !== "") offset = writeStringField(buffer, offset, 0x1a, variable.type);
  const value = variable.value;
  if (value !== undefined) {
    buffer[offset++] = 0x22;
    offset = writeVarint(buffer, offset, valueMessageSize(value));
    offset = writeValue(buffer, offset, value);
  }
  if (variable.constraintsJson !== "") {
    offset = writeStringField(buffer, offset, 0x2a, variable.constraintsJson);
  }
  if (variable.metadataJson !== "") offset = writeStringField(buffer, offset, 0x32, variable.metadataJson);
  if (variable.version !== 0n) {
    buffer[offset++] = 0x38;
    offset = writeInt64(buffer, offset, variable.version);
  }
  if (variable.createdAtMs !== 0n) {
    buffer[offset++] = 0x40;
    offset = writeInt64(buffer, offset, variable.createdAtMs);
  }
  if (variable.updatedAtMs !== 0n) {
    buffer[offset++] = 0x48;
    offset = writeInt64(buffer, offset, variable.updatedAtMs);
  }
  if (variable.source !== "") offset = writeStringField(buffer, offset, 0x52, variable.source);
  return offset;
}

/**
 * The size of a Value's fields (a oneof: its case is written even when zero), or -1 for a
 * value left to protobuf-es. Shared with the other hand-written encoders (set, watch events).
 */
export function valueMessageSize(value: Value): number {
  if (value.$unknown !== undefined) return -1;
  const kind = value.kind;
  switch (kind.case) {
    case undefined:
      return 0;
    case "floatValue":
      return 9;
    case "integerValue": {
      const size = int64Size(kind.value);
      return size < 0 ? -1 : 1 + Math.max(size, 1);
    }
    case "booleanValue":
      return 2;
    case "stringValue":
    case "choiceValue":
    case "moduleValue":
      return stringFieldSize(kind.value);
    case "embeddingValue":
      return 1 + varintSize(kind.value.byteLength) + kind.value.byteLength;
    case "tensorValue": {
      const size = tensorSize(kind.value);
      return size < 0 ? -1 : 1 + varintSize(size) + size;
    }
  }
  return -1;
}

/** Writes a Value's fields (sized by {@link valueMessageSize}) at `start`; returns the offset after them. */
export function writeValue(buffer: Buffer, start: number, value: Value): number {
  let offset = start;
  const kind = value.kind;
  switch (kind.case) {
    case "floatValue":
      buffer[offset] = 0x09;
      buffer.writeDoubleLE(kind.value, offset + 1);
      return offset + 9;
    case "integerValue":
      buffer[offset] = 0x10;
      return writeInt64(buffer, offset + 1, kind.value);
    case "booleanValue":
      buffer[offset] = 0x20;
      buffer[offset + 1] = kind.value ? 1 : 0;
      return offset + 2;
    case "stringValue":
      return writeStringField(buffer, offset, 0x1a, kind.value);
    case "choiceValue":
      return writeStringField(buffer, offset, 0x2a, kind.value);
    case "moduleValue":
      return writeStringField(buffer, offset, 0x32, kind.value);
    case "embeddingValue":
      buffer[offset++] = 0x3a;
      offset = writeVarint(buffer, offset, kind.value.byteLength);
      buffer.set(kind.value, offset);
      return offset + kind.value.byteLength;
    case "tensorValue": {
      const tensor = kind.value;
      buffer[offset++] = 0x42;
      offset = writeVarint(buffer, offset, tensorSize(tensor));
      if (tensor.shape.length > 0) {
        buffer[offset++] = 0x0a;
        let packed = 0;
        for (const dimension of tensor.shape) packed += Math.max(int64Size(dimension), 1);
        offset = writeVarint(buffer, offset, packed);
        for (const dimension of tensor.shape) offset = writeInt64(buffer, offset, dimension);
      }
      if (tensor.data.byteLength > 0) {
        buffer[offset++] = 0x12;
        offset = writeVarint(buffer, offset, tensor.data.byteLength);
        buffer.set(tensor.data, offset);
        offset += tensor.data.byteLength;
      }
      return offset;
    }
  }
  return offset;
}

/** A TensorValue's size: packed shape (when not empty), data (when not empty); or -1. */
function tensorSize(tensor: TensorValue): number {
  if (tensor.$unknown !== undefined) return -1;
  let size = 0;
  if (tensor.shape.length > 0) {
    let packed = 0;
    for (const dimension of tensor.shape) {
      const dimensionSize = int64Size(dimension);
      if (dimensionSize < 0) return -1;
      packed += Math.max(dimensionSize, 1);
    }
    size += 1 + varintSize(packed) + packed;
  }
  if (tensor.data.byteLength > 0) size += 1 + varintSize(tensor.data.byteLength) + tensor.data.byteLength;
  return size;
}

/** The varint size of an int64 (0 for zero, 10 for a negative), or -1 outside int64 or not a bigint. */
export function int64Size(value: bigint): number {
  if (typeof value !== "bigint") return -1;
  if (value === 0n) return 0;
  if (value < 0n) return value < -TWO_TO_63 ? -1 : 10;
  if (value >= TWO_TO_63) return -1;
  if (value <= MAX_SAFE_BIGINT) return varintSize(Number(value));
  let size = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** Writes an int64 (sized by {@link int64Size}) as protobuf's varint; returns the offset after it. */
export function writeInt64(buffer: Buffer, start: number, value: bigint): number {
  if (value >= 0n && value <= MAX_SAFE_BIGINT) return writeVarint(buffer, start, Number(value));
  let offset = start;
  let rest = BigInt.asUintN(64, value);
  while (rest >= 0x80n) {
    buffer[offset++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  buffer[offset++] = Number(rest);
  return offset;
}

function optionalStringFieldSize(value: string): number {
  return value === "" ? 0 : stringFieldSize(value);
}
