import {
  allocateEnvelope,
  ENVELOPE_HEADER_BYTES,
  int64Size,
  ProtobufReader,
  stringFieldSize,
  UNUSUAL_ENCODING,
  type ValueFields,
  valueMessageSize,
  varintSize,
  writeInt64,
  writeStringField,
  writeValue,
  writeVarint,
} from "@statebridge/grpc-wire";
import type { SetVariableResponse, SetVariablesResponse } from "@statebridge/proto";

// The writes, SetVariable and SetVariables, without protobuf-es on the client's direct path,
// as request-encoding.ts and response-decoding.ts do for the gets: requests are written
// straight into their envelope from the init shape the provider builds, responses read
// without reflection. Request bytes are exactly those of `toBinary(schema, create(schema,
// request))` and decoded responses what `fromBinary` returns, held so by
// src/set-encoding.test.ts over generated requests, responses and mutated bytes. A request
// with a field of an unexpected JavaScript type (or unknown fields), and a response in any
// form other than the one a server writes, are left to protobuf-es. Values are written by
// grpc-wire's Value writer.

/** What the SetVariable encoder reads: the fields of the request's init shape. */
type SetVariableFields = object & {
  readonly sessionId?: unknown;
  readonly identifier?: unknown;
  readonly value?: ValueFields;
  readonly metadataJson?: unknown;
  readonly expectedVersion?: unknown;
  readonly source?: unknown;
  readonly $unknown?: unknown;
};

/** What the SetVariables encoder reads: the fields of the request's init shape. */
type SetVariablesFields = object & {
  readonly sessionId?: unknown;
  readonly updates?: unknown;
  readonly metadataJson?: unknown;
  readonly atomic?: unknown;
  readonly source?: unknown;
  readonly $unknown?: unknown;
};

/** One member of SetVariables' `updates`, as far as the encoder reads it. */
type UpdateFields = {
  readonly identifier?: unknown;
  readonly value?: ValueFields;
  readonly $unknown?: unknown;
};

/**
 * Encodes a SetVariableRequest as one uncompressed gRPC envelope: `session_id` = 1,
 * `identifier` = 2, `value` = 3 (written when given, empty or not), `metadata_json` = 4,
 * `expected_version` = 5 (written when given, zero too), `source` = 6.
 * @returns undefined for a request left to protobuf-es.
 */
export function encodeSetVariableRequestEnvelope(request: SetVariableFields): Buffer | undefined {
  const { sessionId = "", identifier = "", value, metadataJson = "", expectedVersion, source = "" } = request;
  if (
    typeof sessionId !== "string" ||
    typeof identifier !== "string" ||
    typeof metadataJson !== "string" ||
    typeof source !== "string" ||
    request.$unknown !== undefined
  ) {
    return undefined;
  }
  let expectedSize = 0;
  if (expectedVersion !== undefined) {
    const size = int64Size(expectedVersion);
    if (size < 0) return undefined;
    expectedSize = 1 + Math.max(size, 1);
  }
  const valueSize = value === undefined ? 0 : valueMessageSize(value);
  if (valueSize < 0) return undefined;
  const buffer = allocateEnvelope(
    optionalStringFieldSize(sessionId) +
      optionalStringFieldSize(identifier) +
      (value === undefined ? 0 : 1 + varintSize(valueSize) + valueSize) +
      optionalStringFieldSize(metadataJson) +
      expectedSize +
      optionalStringFieldSize(source),
  );
  let offset = ENVELOPE_HEADER_BYTES;
  if (sessionId !== "") offset = writeStringField(buffer, offset, 0x0a, sessionId);
  if (identifier !== "") offset = writeStringField(buffer, offset, 0x12, identifier);
  if (value !== undefined) {
    buffer[offset++] = 0x1a;
    offset = writeVarint(buffer, offset, valueSize);
    offset = writeValue(buffer, offset, value);
  }
  if (metadataJson !== "") offset = writeStringField(buffer, offset, 0x22, metadataJson);
  if (expectedVersion !== undefined) {
    buffer[offset++] = 0x28;
    offset = writeInt64(buffer, offset, expectedVersion as bigint);
  }
  if (source !== "") writeStringField(buffer, offset, 0x32, source);
  return buffer;
}

/**
 * Encodes a SetVariablesRequest as one uncompressed gRPC envelope: `session_id` = 1,
 * `updates` = 2 (`identifier` = 1, `value` = 2), `metadata_json` = 3, `atomic` = 4 (when
 * true), `source` = 5. @returns undefined for a request left to protobuf-es.
 */
export function encodeSetVariablesRequestEnvelope(request: SetVariablesFields): Buffer | undefined {
  const { sessionId = "", updates = [], metadataJson = "", atomic = false, source = "" } = request;
  if (
    typeof sessionId !== "string" ||
    !Array.isArray(updates) ||
    typeof metadataJson !== "string" ||
    typeof atomic !== "boolean" ||
    typeof source !== "string" ||
    request.$unknown !== undefined
  ) {
    return undefined;
  }
  const sizes: number[] = new Array(updates.length * 2);
  let length =
    optionalStringFieldSize(sessionId) +
    optionalStringFieldSize(metadataJson) +
    (atomic ? 2 : 0) +
    optionalStringFieldSize(source);
  for (let index = 0; index < updates.length; index++) {
    const update = updates[index] as UpdateFields;
    if (typeof update !== "object" || update === null || update.$unknown !== undefined) return undefined;
    const { identifier = "", value } = update;
    if (typeof identifier !== "string") return undefined;
    const valueSize = value === undefined ? 0 : valueMessageSize(value);
    if (valueSize < 0) return undefined;
    const size =
      optionalStringFieldSize(identifier) + (value === undefined ? 0 : 1 + varintSize(valueSize) + valueSize);
    sizes[index * 2] = size;
    sizes[index * 2 + 1] = valueSize;
    length += 1 + varintSize(size) + size;
  }
  const buffer = allocateEnvelope(length);
  let offset = ENVELOPE_HEADER_BYTES;
  if (sessionId !== "") offset = writeStringField(buffer, offset, 0x0a, sessionId);
  for (let index = 0; index < updates.length; index++) {
    const { identifier = "", value } = updates[index] as UpdateFields;
    buffer[offset++] = 0x12;
    offset = writeVarint(buffer, offset, sizes[index * 2] as number);
    if (identifier !== "") offset = writeStringField(buffer, offset, 0x0a, identifier as string);
    if (value !== undefined) {
      buffer[offset++] = 0x12;
      offset = writeVarint(buffer, offset, sizes[index * 2 + 1] as number);
      offset = writeValue(buffer, offset, value);
    }
  }
  if (metadataJson !== "") offset = writeStringField(buffer, offset, 0x1a, metadataJson);
  if (atomic) {
    buffer[offset++] = 0x20;
    buffer[offset++] = 1;
  }
  if (source !== "") writeStringField(buffer, offset, 0x2a, source);
  return buffer;
}

/** Reads a SetVariableResponse as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeSetVariableResponse(bytes: Uint8Array): SetVariableResponse | undefined {
  const response: SetVariableResponse = {
    $typeName: "statebridge.v1.SetVariableResponse",
    version: 0n,
    revision: 0n,
  };
  try {
    const reader = new ProtobufReader(bytes);
    // Each field once, in field order, as a server writes them.
    let last = 0;
    while (reader.position < reader.end) {
      const tag = reader.byte();
      if (tag === 0x08 && last < 1) response.version = reader.int64();
      else if (tag === 0x10 && last < 2) response.revision = reader.int64();
      else return undefined;
      last = tag >>> 3;
    }
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
  return response;
}

/**
 * Reads a SetVariablesResponse as `fromBinary` does: the revision, then map entries (key, then
 * version) in order. @returns undefined for bytes left to it.
 */
export function decodeSetVariablesResponse(bytes: Uint8Array): SetVariablesResponse | undefined {
  const versions: Record<string, bigint> = {};
  const response: SetVariablesResponse = {
    $typeName: "statebridge.v1.SetVariablesResponse",
    revision: 0n,
    versions,
  };
  try {
    const reader = new ProtobufReader(bytes);
    while (reader.position < reader.end) {
      const tag = reader.byte();
      if (tag === 0x08 && reader.position === 1) {
        response.revision = reader.int64();
        continue;
      }
      if (tag !== 0x12) return undefined;
      const entryEnd = reader.lengthEnd();
      if (reader.byte() !== 0x0a) return undefined;
      const key = reader.string();
      // protobuf-es assigns into a plain object: this key would not be an entry there.
      if (key === "__proto__" || Object.hasOwn(versions, key)) return undefined;
      if (reader.byte() !== 0x10) return undefined;
      versions[key] = reader.int64();
      if (reader.position !== entryEnd) return undefined;
    }
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
  return response;
}

function optionalStringFieldSize(value: string): number {
  return value === "" ? 0 : stringFieldSize(value);
}
