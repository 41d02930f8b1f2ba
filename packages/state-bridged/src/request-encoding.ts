import type { DescMethodUnary } from "@bufbuild/protobuf";
import { allocateEnvelope, stringFieldSize, writeStringField } from "@statebridge/grpc-wire";
import { BridgeService } from "@statebridge/proto";
import { encodeSetVariableRequestEnvelope, encodeSetVariablesRequestEnvelope } from "./set-encoding.js";

// The requests of the hottest calls, GetVariable and GetVariables, written straight into their
// envelope: protobuf-es's create() and writer (a TextEncoder copy per string, a chunk list)
// cost more client CPU than the rest of encoding a call. The bytes are exactly those of
// `toBinary(schema, create(schema, request))`, held so by test/request-encoding.test.ts over
// generated requests; a request that is not plain strings (or carries unknown fields) is left
// to protobuf-es.

/** What the encoders read: the fields of the request's init shape. */
type RequestFields = object & {
  readonly sessionId?: unknown;
  readonly identifier?: unknown;
  readonly identifiers?: unknown;
  readonly $unknown?: unknown;
};

/**
 * Encodes a GetVariableRequest (`session_id` = 1, `identifier` = 2) as one uncompressed gRPC
 * envelope. @returns undefined for a request left to protobuf-es.
 */
export function encodeGetVariableRequestEnvelope(request: RequestFields): Buffer | undefined {
  const { sessionId = "", identifier = "" } = request;
  if (typeof sessionId !== "string" || typeof identifier !== "string" || request.$unknown !== undefined) {
    return undefined;
  }
  const length = optionalStringFieldSize(sessionId) + optionalStringFieldSize(identifier);
  const buffer = allocateEnvelope(length);
  let offset = 5;
  if (sessionId !== "") offset = writeStringField(buffer, offset, 0x0a, sessionId);
  if (identifier !== "") writeStringField(buffer, offset, 0x12, identifier);
  return buffer;
}

/**
 * Encodes a GetVariablesRequest (`session_id` = 1, `identifiers` = 2, each written, empty ones
 * too) as one uncompressed gRPC envelope. @returns undefined for a request left to protobuf-es.
 */
export function encodeGetVariablesRequestEnvelope(request: RequestFields): Buffer | undefined {
  const { sessionId = "", identifiers = [] } = request;
  if (typeof sessionId !== "string" || !Array.isArray(identifiers) || request.$unknown !== undefined) {
    return undefined;
  }
  let length = optionalStringFieldSize(sessionId);
  for (const identifier of identifiers) {
    if (typeof identifier !== "string") return undefined;
    length += stringFieldSize(identifier);
  }
  const buffer = allocateEnvelope(length);
  let offset = 5;
  if (sessionId !== "") offset = writeStringField(buffer, offset, 0x0a, sessionId);
  for (const identifier of identifiers as string[])
    offset = writeStringField(buffer, offset, 0x12, identifier);
  return buffer;
}

/** The hand-written request encoders, by method: the unary caller asks here before protobuf-es. */
export const REQUEST_ENCODERS: ReadonlyMap<DescMethodUnary, (request: RequestFields) => Buffer | undefined> =
  new Map<DescMethodUnary, (request: RequestFields) => Buffer | undefined>([
    [BridgeService.method.getVariable, encodeGetVariableRequestEnvelope],
    [BridgeService.method.getVariables, encodeGetVariablesRequestEnvelope],
    [BridgeService.method.setVariable, encodeSetVariableRequestEnvelope],
    [BridgeService.method.setVariables, encodeSetVariablesRequestEnvelope],
  ]);

function optionalStringFieldSize(value: string): number {
  return value === "" ? 0 : stringFieldSize(value);
}
