import { stringFieldSize, varintSize, writeStringField, writeVarint } from "./protobuf-writing.js";

// The one writer of `statebridge.v1.Value` (and of int64 varints) for the encoders that write a
// hot message straight into its envelope: the server's GetVariable(s) and SetVariable(s)
// responses and WatchEvents, the client's SetVariable(s) requests. It takes a Value message or
// its init shape (a tensor's shape as numbers, as the client gives it); each encoder is held
// byte-equal to `toBinary` by its differential test. Anything it does not expect (unknown
// fields, a member of an unexpected JavaScript type, an int64 out of range) sizes as -1: the
// encoder then leaves the message to protobuf-es.

/** The `kind` of a Value, as far as the writer reads it. */
export interface ValueKindFields {
  readonly case?: unknown;
  readonly value?: unknown;
}

/** A Value message or its init shape, as far as the writer reads it. */
export type ValueFields = { readonly kind?: ValueKindFields; readonly $unknown?: unknown } | undefined;

/**
 * The size of a Value's fields (a oneof: its case is written even when zero), or -1 for a
 * value left to protobuf-es.
 */
export function valueMessageSize(value: ValueFields): number {
  if (typeof value !== "object" || value === null || value.$unknown !== undefined) return -1;
  const kind = value.kind;
  if (kind === undefined) return 0;
  const member = kind.value;
  switch (kind.case) {
    case undefined:
      return 0;
    case "floatValue":
      return typeof member === "number" ? 9 : -1;
    case "integerValue": {
      const size = int64Size(member);
      return size < 0 ? -1 : 1 + Math.max(size, 1);
    }
    case "booleanValue":
      return typeof member === "boolean" ? 2 : -1;
    case "stringValue":
    case "choiceValue":
    case "moduleValue":
      return typeof member === "string" ? stringFieldSize(member) : -1;
    case "embeddingValue":
      return member instanceof Uint8Array ? 1 + varintSize(member.byteLength) + member.byteLength : -1;
    case "tensorValue": {
      const size = tensorSize(member);
      return size < 0 ? -1 : 1 + varintSize(size) + size;
    }
  }
  return -1;
}

/** Writes a Value's fields (sized by {@link valueMessageSize}) at `start`; returns the offset after them. */
export function writeValue(buffer: Buffer, start: number, value: NonNullable<ValueFields>): number {
  const kind = value.kind;
  if (kind === undefined) return start;
  let offset = start;
  switch (kind.case) {
    case "floatValue":
      buffer[offset] = 0x09;
      buffer.writeDoubleLE(kind.value as number, offset + 1);
      return offset + 9;
    case "integerValue":
      buffer[offset] = 0x10;
      return writeInt64(buffer, offset + 1, kind.value as bigint);
    case "booleanValue":
      buffer[offset] = 0x20;
      buffer[offset + 1] = kind.value === true ? 1 : 0;
      return offset + 2;
    case "stringValue":
      return writeStringField(buffer, offset, 0x1a, kind.value as string);
    case "choiceValue":
      return writeStringField(buffer, offset, 0x2a, kind.value as string);
    case "moduleValue":
      return writeStringField(buffer, offset, 0x32, kind.value as string);
    case "embeddingValue": {
      const bytes = kind.value as Uint8Array;
      buffer[offset++] = 0x3a;
      offset = writeVarint(buffer, offset, bytes.byteLength);
      buffer.set(bytes, offset);
      return offset + bytes.byteLength;
    }
    case "tensorValue": {
      const tensor = kind.value as TensorFields;
      buffer[offset++] = 0x42;
      offset = writeVarint(buffer, offset, tensorSize(tensor));
      const shape = tensor.shape ?? [];
      if (shape.length > 0) {
        buffer[offset++] = 0x0a;
        let packed = 0;
        for (const dimension of shape) packed += Math.max(int64Size(dimension), 1);
        offset = writeVarint(buffer, offset, packed);
        for (const dimension of shape) offset = writeInt64(buffer, offset, dimension);
      }
      const data = tensor.data;
      if (data !== undefined && data.byteLength > 0) {
        buffer[offset++] = 0x12;
        offset = writeVarint(buffer, offset, data.byteLength);
        buffer.set(data, offset);
        offset += data.byteLength;
      }
      return offset;
    }
  }
  return offset;
}

/** A TensorValue's init shape: the provider gives its shape as numbers. */
interface TensorFields {
  readonly shape?: readonly (number | bigint)[];
  readonly data?: Uint8Array;
  readonly $unknown?: unknown;
}

/** A TensorValue's size (packed shape when not empty, data when not empty), or -1. */
function tensorSize(member: unknown): number {
  if (typeof member !== "object" || member === null) return -1;
  const tensor = member as TensorFields;
  const { shape = [], data = new Uint8Array(0) } = tensor;
  if (tensor.$unknown !== undefined || !Array.isArray(shape) || !(data instanceof Uint8Array)) return -1;
  let size = 0;
  if (shape.length > 0) {
    let packed = 0;
    for (const dimension of shape) {
      const dimensionSize = int64Size(dimension);
      if (dimensionSize < 0) return -1;
      packed += Math.max(dimensionSize, 1);
    }
    size += 1 + varintSize(packed) + packed;
  }
  if (data.byteLength > 0) size += 1 + varintSize(data.byteLength) + data.byteLength;
  return size;
}

const TWO_TO_63 = 2n ** 63n;

/**
 * The varint size of an int64 given as a bigint in range or a safe whole number (0 for zero,
 * 10 for a negative), or -1 for anything else, which is left to protobuf-es.
 */
export function int64Size(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) return -1;
    if (value === 0) return 0;
    return value < 0 ? 10 : varintSize(value);
  }
  if (typeof value !== "bigint") return -1;
  if (value === 0n) return 0;
  if (value < 0n) return value < -TWO_TO_63 ? -1 : 10;
  if (value >= TWO_TO_63) return -1;
  if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return varintSize(Number(value));
  let size = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** Writes an int64 (sized by {@link int64Size}) as protobuf's varint. */
export function writeInt64(buffer: Buffer, start: number, value: number | bigint): number {
  if (typeof value === "number" && value >= 0) return writeVarint(buffer, start, value);
  let offset = start;
  let rest = BigInt.asUintN(64, BigInt(value));
  while (rest >= 0x80n) {
    buffer[offset++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  buffer[offset++] = Number(rest);
  return offset;
}
