import {
  allocateEnvelope,
  ENVELOPE_HEADER_BYTES,
  int64Size,
  stringFieldSize,
  valueMessageSize,
  varintSize,
  writeInt64,
  writeStringField,
  writeValue,
  writeVarint,
} from "@statebridge/grpc-wire";
import type { GetVariableResponse, GetVariablesResponse, Variable } from "@statebridge/proto";

// The responses of GetVariable and GetVariables written straight into one buffer, for the
// direct gRPC path. protobuf-es's writer forks a chunk list per nested message and copies
// every string through TextEncoder: for GetVariables(100) that was ~25 µs of server CPU per
// variable. The bytes are exactly those of `toBinary` (held so by
// test/variable-encoding.test.ts over generated messages); anything this module does not
// expect (unknown fields, an int64 that is not a bigint in range) is left to protobuf-es.
// Values and int64s are written by grpc-wire's value-writing.ts.

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

function optionalStringFieldSize(value: string): number {
  return value === "" ? 0 : stringFieldSize(value);
}
