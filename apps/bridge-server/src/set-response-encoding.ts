import {
  allocateEnvelope,
  ENVELOPE_HEADER_BYTES,
  int64Size,
  stringFieldSize,
  varintSize,
  writeInt64,
  writeStringField,
  writeVarint,
} from "@statebridge/grpc-wire";
import type { SetVariableResponse, SetVariablesResponse } from "@statebridge/proto";

// The responses of the writes, SetVariable and SetVariables, written straight into one
// envelope for the direct gRPC path, as variable-encoding.ts writes the gets'. The bytes are
// exactly those of `toBinary(schema, create(schema, result))`, held so by
// test/set-response-encoding.test.ts over generated messages; a result whose fields are not
// bigints in int64's range (or that carries unknown fields) is left to protobuf-es.

/** What the encoders read: a response message, or the init shape a method returns. */
type SetVariableResult = Partial<Pick<SetVariableResponse, "version" | "revision" | "$unknown">>;
type SetVariablesResult = Partial<Pick<SetVariablesResponse, "versions" | "revision" | "$unknown">>;

/**
 * Encodes a SetVariableResponse (`version` = 1, `revision` = 2) as one uncompressed gRPC
 * envelope. @returns undefined for a result left to protobuf-es.
 */
export function encodeSetVariableResponseEnvelope(result: SetVariableResult): Buffer | undefined {
  const { version = 0n, revision = 0n } = result;
  if (result.$unknown !== undefined) return undefined;
  const versionSize = int64Size(version);
  const revisionSize = int64Size(revision);
  if (versionSize < 0 || revisionSize < 0) return undefined;
  const buffer = allocateEnvelope(
    (versionSize === 0 ? 0 : 1 + versionSize) + (revisionSize === 0 ? 0 : 1 + revisionSize),
  );
  let offset = ENVELOPE_HEADER_BYTES;
  if (versionSize !== 0) {
    buffer[offset++] = 0x08;
    offset = writeInt64(buffer, offset, version);
  }
  if (revisionSize !== 0) {
    buffer[offset++] = 0x10;
    writeInt64(buffer, offset, revision);
  }
  return buffer;
}

/**
 * Encodes a SetVariablesResponse (`revision` = 1, `versions` = 2: map entries in the object's
 * own key order, as protobuf-es iterates them, key and value always written) as one
 * uncompressed gRPC envelope. @returns undefined for a result left to protobuf-es.
 */
export function encodeSetVariablesResponseEnvelope(result: SetVariablesResult): Buffer | undefined {
  const { revision = 0n, versions = {} } = result;
  if (result.$unknown !== undefined) return undefined;
  const revisionSize = int64Size(revision);
  if (revisionSize < 0) return undefined;
  let length = revisionSize === 0 ? 0 : 1 + revisionSize;
  const keys = Object.keys(versions);
  for (const key of keys) {
    const size = int64Size(versions[key] as bigint);
    if (size < 0) return undefined;
    const entry = stringFieldSize(key) + 1 + Math.max(size, 1);
    length += 1 + varintSize(entry) + entry;
  }
  const buffer = allocateEnvelope(length);
  let offset = ENVELOPE_HEADER_BYTES;
  if (revisionSize !== 0) {
    buffer[offset++] = 0x08;
    offset = writeInt64(buffer, offset, revision);
  }
  for (const key of keys) {
    const version = versions[key] as bigint;
    buffer[offset++] = 0x12;
    offset = writeVarint(buffer, offset, stringFieldSize(key) + 1 + Math.max(int64Size(version), 1));
    offset = writeStringField(buffer, offset, 0x0a, key);
    buffer[offset++] = 0x10;
    offset = writeInt64(buffer, offset, version);
  }
  return buffer;
}
