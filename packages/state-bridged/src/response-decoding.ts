import type { DescMethodUnary } from "@bufbuild/protobuf";
import { ProtobufReader, readValue, UNUSUAL_ENCODING } from "@statebridge/grpc-wire";
import {
  BridgeService,
  type GetVariableResponse,
  type GetVariablesResponse,
  type Variable,
} from "@statebridge/proto";
import { decodeSetVariableResponse, decodeSetVariablesResponse } from "./set-encoding.js";

// The responses of the hottest calls, GetVariable and GetVariables, read without protobuf-es's
// reflection (a ReflectMessage, a field lookup and a zero message per nested message, a
// TextDecoder call per string): that was most of a getMany(100)'s client CPU. The result is
// what `fromBinary` returns for the same bytes, held so by test/response-decoding.test.ts over
// generated messages and mutated bytes. Only the form a server writes is read here (fields at
// most once, known field numbers with their wire types, packed shapes, varints of at most 7
// bytes); anything else returns undefined and is left to fromBinary, which reads every form.

/** The decoders, by method: the unary caller asks here before protobuf-es. */
export const RESPONSE_DECODERS: ReadonlyMap<DescMethodUnary, (bytes: Uint8Array) => object | undefined> =
  new Map<DescMethodUnary, (bytes: Uint8Array) => object | undefined>([
    [BridgeService.method.getVariable, decodeGetVariableResponse],
    [BridgeService.method.getVariables, decodeGetVariablesResponse],
    [BridgeService.method.setVariable, decodeSetVariableResponse],
    [BridgeService.method.setVariables, decodeSetVariablesResponse],
  ]);

/** Reads a GetVariableResponse as `fromBinary` does. @returns undefined for bytes left to it. */
export function decodeGetVariableResponse(bytes: Uint8Array): GetVariableResponse | undefined {
  try {
    const reader = new ProtobufReader(bytes);
    const response = { $typeName: "statebridge.v1.GetVariableResponse" } as GetVariableResponse;
    if (reader.position < reader.end) {
      if (reader.byte() !== 0x0a) throw UNUSUAL_ENCODING;
      const end = reader.lengthEnd();
      response.variable = readVariable(reader, end);
    }
    if (reader.position !== reader.end) throw UNUSUAL_ENCODING;
    return response;
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
}

/**
 * Reads a GetVariablesResponse as `fromBinary` does: map entries (key, then value) in order,
 * then the missing identifiers. @returns undefined for bytes left to it.
 */
export function decodeGetVariablesResponse(bytes: Uint8Array): GetVariablesResponse | undefined {
  try {
    const reader = new ProtobufReader(bytes);
    const variables: Record<string, Variable> = {};
    const missing: string[] = [];
    while (reader.position < reader.end) {
      const tag = reader.byte();
      if (tag === 0x0a && missing.length === 0) {
        const entryEnd = reader.lengthEnd();
        if (reader.byte() !== 0x0a) throw UNUSUAL_ENCODING;
        const key = reader.string();
        // protobuf-es assigns into a plain object: this key would set its prototype.
        if (key === "__proto__" || Object.hasOwn(variables, key)) throw UNUSUAL_ENCODING;
        if (reader.byte() !== 0x12) throw UNUSUAL_ENCODING;
        const variableEnd = reader.lengthEnd();
        if (variableEnd !== entryEnd) throw UNUSUAL_ENCODING;
        variables[key] = readVariable(reader, variableEnd);
      } else if (tag === 0x12) {
        missing.push(reader.string());
      } else {
        throw UNUSUAL_ENCODING;
      }
    }
    return { $typeName: "statebridge.v1.GetVariablesResponse", variables, missing };
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
}

function readVariable(reader: ProtobufReader, end: number): Variable {
  const variable: Variable = {
    $typeName: "statebridge.v1.Variable",
    id: "",
    name: "",
    type: "",
    constraintsJson: "",
    metadataJson: "",
    version: 0n,
    createdAtMs: 0n,
    updatedAtMs: 0n,
    source: "",
  };
  // Each field once, in field order, as a server writes them.
  let last = 0;
  while (reader.position < end) {
    const tag = reader.byte();
    const field = tag >>> 3;
    if (field <= last) throw UNUSUAL_ENCODING;
    last = field;
    switch (tag) {
      case 0x0a:
        variable.id = reader.string();
        break;
      case 0x12:
        variable.name = reader.string();
        break;
      case 0x1a:
        variable.type = reader.string();
        break;
      case 0x22:
        variable.value = readValue(reader, reader.lengthEnd());
        break;
      case 0x2a:
        variable.constraintsJson = reader.string();
        break;
      case 0x32:
        variable.metadataJson = reader.string();
        break;
      case 0x38:
        variable.version = reader.int64();
        break;
      case 0x40:
        variable.createdAtMs = reader.int64();
        break;
      case 0x48:
        variable.updatedAtMs = reader.int64();
        break;
      case 0x52:
        variable.source = reader.string();
        break;
      default:
        throw UNUSUAL_ENCODING;
    }
  }
  if (reader.position !== end) throw UNUSUAL_ENCODING;
  return variable;
}
