import {
  type ProtobufReader,
  readBoolean,
  readMessage,
  readValue,
  UNUSUAL_ENCODING,
} from "@statebridge/grpc-wire";
import type { SetVariableRequest, SetVariablesRequest, VariableUpdate } from "@statebridge/proto";

// The requests of the writes, SetVariable and SetVariables, read without protobuf-es's
// reflection on the direct path, as request-decoding.ts reads the gets. The result is what
// `fromBinary` returns for the same bytes, held so by test/set-request-decoding.test.ts over
// generated requests and mutated bytes. Top-level fields may come in any order and a repeated
// singular string or number field's last value wins, as in protobuf-es; a message field given
// twice (which protobuf-es merges), a Value with two members of its oneof, unpacked tensor
// shapes, negative or long varints, unknown fields, other wire types and invalid UTF-8 return
// undefined and are left to fromBinary. Values are read by grpc-wire's `readValue`.

/** Reads a SetVariableRequest as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeSetVariableRequest(bytes: Uint8Array): SetVariableRequest | undefined {
  const request: SetVariableRequest = {
    $typeName: "statebridge.v1.SetVariableRequest",
    sessionId: "",
    identifier: "",
    metadataJson: "",
    source: "",
  };
  return readMessage(bytes, request, readSetVariableField);
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
  return readMessage(bytes, request, readSetVariablesField);
}

function readSetVariableField(reader: ProtobufReader, tag: number, request: SetVariableRequest): boolean {
  if (tag === 0x0a) request.sessionId = reader.string();
  else if (tag === 0x12) request.identifier = reader.string();
  else if (tag === 0x1a && request.value === undefined) request.value = readValue(reader, reader.lengthEnd());
  else if (tag === 0x22) request.metadataJson = reader.string();
  else if (tag === 0x28) request.expectedVersion = reader.int64();
  else if (tag === 0x32) request.source = reader.string();
  else return false;
  return true;
}

function readSetVariablesField(reader: ProtobufReader, tag: number, request: SetVariablesRequest): boolean {
  if (tag === 0x0a) request.sessionId = reader.string();
  else if (tag === 0x12) request.updates.push(readUpdate(reader, reader.lengthEnd()));
  else if (tag === 0x1a) request.metadataJson = reader.string();
  else if (tag === 0x20) request.atomic = readBoolean(reader);
  else if (tag === 0x2a) request.source = reader.string();
  else return false;
  return true;
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
