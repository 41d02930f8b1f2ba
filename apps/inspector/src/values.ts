import { create } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@statebridge/proto";

/** A value decoded from the wire, for display and charts. */
export type DecodedValue =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "text"; readonly value: string }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "vector"; readonly value: Float64Array }
  | { readonly kind: "tensor"; readonly shape: readonly number[]; readonly data: Float64Array }
  | { readonly kind: "none" };

/** Little-endian doubles, 8 bytes each, as embeddings and tensors cross the wire. */
export function decodeDoubles(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(Math.floor(bytes.byteLength / 8));
  for (let index = 0; index < values.length; index++) values[index] = view.getFloat64(index * 8, true);
  return values;
}

function encodeDoubles(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (const [index, value] of values.entries()) view.setFloat64(index * 8, value, true);
  return bytes;
}

/** Decodes a wire value. */
export function decodeValue(value: Value | undefined): DecodedValue {
  const kind = value?.kind;
  switch (kind?.case) {
    case "floatValue":
      return { kind: "number", value: kind.value };
    case "integerValue":
      return { kind: "number", value: Number(kind.value) };
    case "stringValue":
    case "choiceValue":
    case "moduleValue":
      return { kind: "text", value: kind.value };
    case "booleanValue":
      return { kind: "boolean", value: kind.value };
    case "embeddingValue":
      return { kind: "vector", value: decodeDoubles(kind.value) };
    case "tensorValue":
      return { kind: "tensor", shape: kind.value.shape.map(Number), data: decodeDoubles(kind.value.data) };
    default:
      return { kind: "none" };
  }
}

/** A number as the page prints it: NaN and infinities by name, others compactly. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** A one-line text of a value, for the event feed and edit fields. */
export function valueText(value: DecodedValue, limit = 8): string {
  switch (value.kind) {
    case "number":
      return formatNumber(value.value);
    case "text":
      return JSON.stringify(value.value);
    case "boolean":
      return String(value.value);
    case "vector": {
      const shown = Array.from(value.value.slice(0, limit), formatNumber).join(", ");
      return `[${shown}${value.value.length > limit ? `, … ${value.value.length} in all` : ""}]`;
    }
    case "tensor":
      return `tensor ${value.shape.join("×")}`;
    default:
      return "—";
  }
}

/** The text an edit field starts with: what {@link parseValue} reads back. */
export function editText(value: DecodedValue): string {
  switch (value.kind) {
    case "number":
      return formatNumber(value.value);
    case "text":
      return value.value;
    case "boolean":
      return String(value.value);
    case "vector":
      return JSON.stringify(Array.from(value.value));
    case "tensor":
      return JSON.stringify({ shape: value.shape, data: Array.from(value.data) });
    default:
      return "";
  }
}

/** A number typed in a field; NaN and infinities by name. @throws for anything else. */
function parseNumber(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "NaN") return Number.NaN;
  if (trimmed === "Infinity" || trimmed === "+Infinity") return Number.POSITIVE_INFINITY;
  if (trimmed === "-Infinity") return Number.NEGATIVE_INFINITY;
  const value = trimmed === "" ? Number.NaN : Number(trimmed);
  if (Number.isNaN(value)) throw new Error(`"${text}" is not a number`);
  return value;
}

function parseNumbers(text: string): number[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "number")) {
    throw new Error("expected a JSON array of numbers");
  }
  return parsed;
}

/**
 * Reads the text of an edit field as a value of `type`. The server validates it (constraints
 * included); this only builds the wire form. @throws with a message when the text cannot be read.
 */
export function parseValue(type: string, text: string): Value {
  switch (type) {
    case "float":
      return create(ValueSchema, { kind: { case: "floatValue", value: parseNumber(text) } });
    case "integer": {
      if (!/^\s*-?\d+\s*$/.test(text)) throw new Error(`"${text}" is not a whole number`);
      return create(ValueSchema, { kind: { case: "integerValue", value: BigInt(text.trim()) } });
    }
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: text } });
    case "choice":
      return create(ValueSchema, { kind: { case: "choiceValue", value: text } });
    case "module":
      return create(ValueSchema, { kind: { case: "moduleValue", value: text } });
    case "boolean":
      if (text !== "true" && text !== "false") throw new Error("expected true or false");
      return create(ValueSchema, { kind: { case: "booleanValue", value: text === "true" } });
    case "embedding":
      return create(ValueSchema, {
        kind: { case: "embeddingValue", value: encodeDoubles(parseNumbers(text)) },
      });
    case "tensor": {
      const parsed = JSON.parse(text) as { shape?: unknown; data?: unknown };
      const shape = parseNumbers(JSON.stringify(parsed.shape ?? null));
      const data = parseNumbers(JSON.stringify(parsed.data ?? null));
      return create(ValueSchema, {
        kind: { case: "tensorValue", value: { shape: shape.map(BigInt), data: encodeDoubles(data) } },
      });
    }
    default:
      throw new Error(`unknown type ${type}`);
  }
}
