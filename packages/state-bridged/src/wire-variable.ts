import type { MessageInitShape } from "@bufbuild/protobuf";
import type { VariableSchema, Variable as WireVariable } from "@statebridge/proto";
import {
  type Constraints,
  decodeWireValue,
  encodeWireValue,
  isVariableType,
  type Metadata,
  normalizeMetadata,
  StateError,
  type Variable,
  type VariableType,
  type VariableValue,
  type WireValueKind,
} from "@statebridge/state-provider";

const EMPTY_CONSTRAINTS: Constraints = Object.freeze({});

/**
 * Converts a variable the server sent into the provider's {@link Variable}. The server already
 * validated and normalized everything, so nothing is checked twice; metadata gets the same
 * frozen, null-prototype shape a local backend gives (keys like `__proto__` stay plain data).
 * @throws `unavailable` if the server sent a type this client does not know (a newer server).
 */
export function variableFromWire(wire: WireVariable): Variable {
  const type = typeOf(wire);
  return Object.freeze({
    id: wire.id,
    name: wire.name,
    type,
    value: valueFromWire(wire),
    constraints: constraintsFromJson(wire.constraintsJson),
    metadata: metadataFromJson(wire.metadataJson),
    version: Number(wire.version),
    createdAt: Number(wire.createdAtMs),
    updatedAt: Number(wire.updatedAtMs),
    source: wire.source,
  });
}

/** The value of a variable the server sent. */
export function valueFromWire(wire: WireVariable): VariableValue {
  const value = decodeWireValue(wire.value?.kind as WireValueKind | undefined);
  if (value === undefined) {
    throw new StateError(
      "unavailable",
      `the bridge-server sent variable ${JSON.stringify(wire.name)} without a value`,
    );
  }
  return value;
}

/** The type of a variable the server sent. */
export function typeOf(wire: WireVariable): VariableType {
  if (isVariableType(wire.type)) return wire.type;
  throw new StateError(
    "unavailable",
    `the bridge-server sent variable ${JSON.stringify(wire.name)} of type ${JSON.stringify(wire.type)}, unknown to this client`,
  );
}

/** Converts a validated variable into the wire form `ImportSession` takes, ids and versions kept. */
export function variableToWire(variable: Variable): MessageInitShape<typeof VariableSchema> {
  return {
    id: variable.id,
    name: variable.name,
    type: variable.type,
    value: { kind: encodeWireValue(variable.type, variable.value) as NonNullable<WireValueInit> },
    constraintsJson:
      Object.keys(variable.constraints).length === 0 ? "" : JSON.stringify(variable.constraints),
    metadataJson: Object.keys(variable.metadata).length === 0 ? "" : JSON.stringify(variable.metadata),
    version: BigInt(variable.version),
    createdAtMs: BigInt(Math.trunc(variable.createdAt)),
    updatedAtMs: BigInt(Math.trunc(variable.updatedAt)),
    source: variable.source,
  };
}

/** The `kind` of a wire value as protobuf-es takes it on input. */
export type WireValueInit = NonNullable<MessageInitShape<typeof VariableSchema>["value"]>["kind"];

/** Parses the `metadata_json` of a variable or a session ("" means empty). */
export function metadataFromJson(json: string): Metadata {
  return normalizeMetadata(json === "" ? undefined : parseJson(json, "metadata"));
}

function constraintsFromJson(json: string): Constraints {
  if (json === "") return EMPTY_CONSTRAINTS;
  return Object.freeze(parseJson(json, "constraints") as Constraints);
}

function parseJson(json: string, what: string): unknown {
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new StateError("unavailable", `the bridge-server sent ${what} that is not JSON`, { cause: error });
  }
}
