import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ImportSessionRequestSchema } from "@statebridge/proto";
import { createVariableId, type Variable } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { createPreEncodedImportRequest } from "./import-encoding.js";
import { variableToWire } from "./wire-variable.js";

const EMPTY = Object.freeze(Object.create(null));

function variable(fields: Partial<Variable> & Pick<Variable, "type" | "value">): Variable {
  return {
    id: createVariableId(),
    name: `v_${Math.random().toString(36).slice(2)}`,
    constraints: EMPTY,
    metadata: EMPTY,
    version: 0,
    createdAt: 0,
    updatedAt: 0,
    source: "",
    ...fields,
  };
}

const variables: Variable[] = [
  variable({
    type: "float",
    value: 0.5,
    version: 3,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_123,
  }),
  variable({ type: "float", value: Number.NaN, source: "typescript" }),
  variable({ type: "float", value: -0, constraints: { min: -1, max: 1 } }),
  variable({ type: "float", value: Number.NEGATIVE_INFINITY }),
  variable({ type: "float", value: 0 }),
  variable({ type: "integer", value: 0 }),
  variable({ type: "integer", value: -1 }),
  variable({ type: "integer", value: Number.MIN_SAFE_INTEGER, version: Number.MAX_SAFE_INTEGER }),
  variable({ type: "integer", value: Number.MAX_SAFE_INTEGER }),
  variable({ type: "integer", value: 300 }),
  variable({ type: "boolean", value: false }),
  variable({ type: "boolean", value: true, metadata: { unit: "°C", nested: { list: [1, "two"] } } }),
  variable({ type: "string", value: "" }),
  variable({ type: "string", value: "héllo, 世界 😀", name: "ünïcode_名前" }),
  variable({ type: "string", value: "x".repeat(200) }),
  variable({ type: "string", value: "y".repeat(20_000), source: "s".repeat(130) }),
  variable({ type: "choice", value: "b", constraints: { choices: ["a", "b"] } }),
  variable({ type: "module", value: "torch.nn.Linear" }),
  variable({ type: "embedding", value: [1, -0, Number.NaN, 2.5] }),
  variable({ type: "embedding", value: [] }),
  variable({ type: "tensor", value: { shape: [2, 2], data: [1, 2, 3, 4] } }),
  variable({ type: "tensor", value: { shape: [0], data: [] } }),
];

describe("createPreEncodedImportRequest", () => {
  it("encodes exactly the bytes protobuf-es writes for the same request, every type and edge included", () => {
    const request = { sessionId: "session_abc", revision: 42, metadataJson: '{"owner":"me"}' };
    const preEncoded = toBinary(
      ImportSessionRequestSchema,
      createPreEncodedImportRequest({ ...request, variables }),
    );
    const reference = toBinary(
      ImportSessionRequestSchema,
      create(ImportSessionRequestSchema, {
        ...request,
        revision: BigInt(request.revision),
        variables: variables.map(variableToWire),
      }),
    );
    expect(Buffer.from(preEncoded).equals(Buffer.from(reference))).toBe(true);
  });

  it("decodes back to every variable, in order, when the buffer grows many times", () => {
    const many = Array.from({ length: 5_000 }, (_, index) =>
      variable({ type: "string", value: "z".repeat(index % 300), name: `name_${index}` }),
    );
    const bytes = toBinary(
      ImportSessionRequestSchema,
      createPreEncodedImportRequest({ sessionId: "s", revision: 0, metadataJson: "", variables: many }),
    );
    const decoded = fromBinary(ImportSessionRequestSchema, bytes);
    expect(decoded.variables.map((wire) => wire.name)).toEqual(many.map((entry) => entry.name));
    expect(decoded.variables[299]?.value?.kind).toEqual({ case: "stringValue", value: "z".repeat(299) });
    expect(decoded.revision).toBe(0n);
  });
});
