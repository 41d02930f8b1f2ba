import { create } from "@bufbuild/protobuf";
import {
  type Session as ProtoSession,
  type Variable as ProtoVariable,
  SessionSchema,
  type Value,
} from "@statebridge/proto";
import type { SessionInfo } from "@statebridge/session-store";
import {
  encodeWireValue,
  StateError,
  type StateErrorCode,
  type Variable,
  type VariableType,
  type VariableValue,
  type WireValueKind,
} from "@statebridge/state-provider";

/**
 * Converts a normalized value into the `kind` oneof of the generated `statebridge.v1.Value`.
 * The shared wire helpers describe tensor shapes as numbers; the generated code holds every
 * int64 as a bigint (protoc-gen-es does not honor `jstype = JS_NUMBER`), so shapes are
 * converted here.
 */
export function toProtoValueKind(type: VariableType, value: VariableValue): Value["kind"] {
  return protoKindOf(encodeWireValue(type, value));
}

/** Converts a {@link WireValueKind} into the generated oneof (tensor shapes as bigints). */
export function protoKindOf(kind: WireValueKind): Value["kind"] {
  if (kind.case === "tensorValue") {
    return {
      case: "tensorValue",
      value: {
        $typeName: "statebridge.v1.TensorValue",
        shape: kind.value.shape.map(BigInt),
        data: kind.value.data,
      },
    } as Value["kind"];
  }
  return kind as Value["kind"];
}

/**
 * Converts a received `statebridge.v1.Value` into the {@link WireValueKind} that
 * `fromWireValue` checks against a type. A shape dimension beyond the safe integers becomes an
 * unsafe number, which the type system then refuses.
 */
export function fromProtoValue(value: Value | undefined): WireValueKind | undefined {
  if (value === undefined) return undefined;
  const kind = value.kind;
  if (kind.case === "tensorValue") {
    return { case: "tensorValue", value: { shape: kind.value.shape.map(Number), data: kind.value.data } };
  }
  return kind;
}

/** An int64 field from a number of the store: whole by construction, truncated to be sure. */
export function int64(value: number): bigint {
  return BigInt(Math.trunc(value));
}

/**
 * Reads a JSON text field of a request. The empty string means "none", so it is never parsed.
 * @throws `code` (default `invalid_value`) naming the field when the text is not JSON.
 */
export function parseJsonField(text: string, field: string, code: StateErrorCode = "invalid_value"): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StateError(code, `${field} is not valid JSON: ${reason}`);
  }
}

/** Writes an object as a JSON text field; an empty object is the empty string. */
export function jsonFieldOf(value: object): string {
  for (const _key in value) return JSON.stringify(value);
  return "";
}

/**
 * Converts a stored variable into its wire message. Built as the message itself (every field
 * set, `$typeName` on it and its Value), which is what `create(VariableSchema, …)` returns
 * for these fields, without create()'s zero message and field-by-field copy on every read.
 */
export function toProtoVariable(variable: Variable): ProtoVariable {
  return {
    $typeName: "statebridge.v1.Variable",
    id: variable.id,
    name: variable.name,
    type: variable.type,
    value: { $typeName: "statebridge.v1.Value", kind: toProtoValueKind(variable.type, variable.value) },
    constraintsJson: jsonFieldOf(variable.constraints),
    metadataJson: jsonFieldOf(variable.metadata),
    version: int64(variable.version),
    createdAtMs: int64(variable.createdAt),
    updatedAtMs: int64(variable.updatedAt),
    source: variable.source,
  };
}

/** Converts a session description into its wire message. */
export function toProtoSession(session: SessionInfo): ProtoSession {
  return create(SessionSchema, {
    sessionId: session.sessionId,
    revision: int64(session.revision),
    createdAtMs: int64(session.createdAt),
    lastAccessedAtMs: int64(session.lastAccessedAt),
    expiresAtMs: int64(session.expiresAt),
    variableCount: int64(session.variableCount),
    metadataJson: jsonFieldOf(session.metadata),
    ttlSeconds: session.ttlSeconds,
    incarnation: session.incarnation,
  });
}

/**
 * An object for user-keyed protobuf map fields. It has no prototype, so that a key such as
 * `__proto__` is an ordinary entry rather than a prototype assignment.
 */
export function createMapObject<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
