import { type ProtobufReader, readMessage } from "@statebridge/grpc-wire";
import type { GetVariableRequest, GetVariablesRequest } from "@statebridge/proto";

// The requests of the hottest calls, GetVariable and GetVariables, read without protobuf-es's
// reflection (a ReflectMessage, a field lookup per field, a zero message) on the direct path.
// The result is what `fromBinary` returns for the same bytes, held so by
// test/request-decoding.test.ts over generated requests and mutated bytes; fields may come in
// any order and a repeated singular field's last value wins, as in protobuf-es. Unknown fields,
// other wire types and invalid UTF-8 return undefined and are left to fromBinary.

/** Reads a GetVariableRequest as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeGetVariableRequest(bytes: Uint8Array): GetVariableRequest | undefined {
  const request: GetVariableRequest = {
    $typeName: "statebridge.v1.GetVariableRequest",
    sessionId: "",
    identifier: "",
  };
  return readMessage(bytes, request, readGetVariableField);
}

/** Reads a GetVariablesRequest as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeGetVariablesRequest(bytes: Uint8Array): GetVariablesRequest | undefined {
  const request: GetVariablesRequest = {
    $typeName: "statebridge.v1.GetVariablesRequest",
    sessionId: "",
    identifiers: [],
  };
  return readMessage(bytes, request, readGetVariablesField);
}

function readGetVariableField(reader: ProtobufReader, tag: number, request: GetVariableRequest): boolean {
  if (tag === 0x0a) request.sessionId = reader.string();
  else if (tag === 0x12) request.identifier = reader.string();
  else return false;
  return true;
}

function readGetVariablesField(reader: ProtobufReader, tag: number, request: GetVariablesRequest): boolean {
  if (tag === 0x0a) request.sessionId = reader.string();
  else if (tag === 0x12) request.identifiers.push(reader.string());
  else return false;
  return true;
}
