import {
  type Constraints,
  isTensorValue,
  type Metadata,
  packFloat64,
  StateError,
  unpackFloat64,
  type Variable,
  type VariableType,
  type VariableValue,
} from "@statebridge/state-provider";

/**
 * How a normalized value is stored: binary, so that a script only copies it and a large
 * embedding or tensor costs one memcpy in Redis, never a Lua decode.
 * - float, integer: 8 bytes, a little-endian double;
 * - string, choice, module: UTF-8;
 * - boolean: one byte, 1 or 0;
 * - embedding: packed little-endian doubles;
 * - tensor: a 4-byte little-endian length, the shape as JSON, then the packed data.
 */
export function encodeStoredValue(type: VariableType, value: VariableValue): Buffer {
  switch (type) {
    case "float":
    case "integer": {
      const buffer = Buffer.allocUnsafe(8);
      buffer.writeDoubleLE(value as number, 0);
      return buffer;
    }
    case "boolean":
      return Buffer.from([value === true ? 1 : 0]);
    case "embedding": {
      const packed = packFloat64(value as readonly number[]);
      return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    }
    case "tensor": {
      if (!isTensorValue(value)) throw new StateError("invalid_value", "a tensor value needs shape and data");
      const shape = Buffer.from(JSON.stringify(value.shape), "utf8");
      const packed = packFloat64(value.data);
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32LE(shape.length, 0);
      return Buffer.concat([header, shape, packed]);
    }
    default:
      return Buffer.from(value as string, "utf8");
  }
}

/** Decodes a stored value ({@link encodeStoredValue}) into a frozen, normalized value. */
export function decodeStoredValue(type: VariableType, bytes: Buffer): VariableValue {
  switch (type) {
    case "float":
    case "integer":
      return bytes.readDoubleLE(0);
    case "boolean":
      return bytes[0] === 1;
    case "embedding":
      return Object.freeze(doubles(bytes));
    case "tensor": {
      const length = bytes.readUInt32LE(0);
      const shape = JSON.parse(bytes.toString("utf8", 4, 4 + length)) as number[];
      return Object.freeze({
        shape: Object.freeze(shape),
        data: Object.freeze(doubles(bytes.subarray(4 + length))),
      });
    }
    default:
      return bytes.toString("utf8");
  }
}

function doubles(bytes: Buffer): number[] {
  const numbers = unpackFloat64(bytes);
  if (numbers === undefined) throw new StateError("invalid_value", "a stored array is not whole doubles");
  return numbers;
}

/** The immutable part of a variable, stored once at registration. */
export interface VariableHeader {
  readonly name: string;
  readonly type: VariableType;
  readonly constraints: Constraints;
  readonly createdAt: number;
}

/** A header as stored (`<id>:h`): short JSON. */
export function encodeHeader(header: VariableHeader): string {
  return JSON.stringify({ n: header.name, t: header.type, c: header.constraints, a: header.createdAt });
}

/** Decodes a stored header; its constraints are frozen like the type system's. */
export function decodeHeader(text: string): VariableHeader {
  const parsed = JSON.parse(text) as { n: string; t: VariableType; c: Constraints; a: number };
  return {
    name: parsed.n,
    type: parsed.t,
    constraints: deepFreeze(parsed.c),
    createdAt: parsed.a,
  };
}

/** Metadata as stored: JSON, "" for none. */
export function encodeMetadata(metadata: Metadata): string {
  for (const _key in metadata) return JSON.stringify(metadata);
  return "";
}

/** Decodes stored metadata into a frozen null-prototype object, as `normalizeMetadata` makes. */
export function decodeMetadata(text: string | undefined): Metadata {
  const metadata = Object.create(null) as Record<string, unknown>;
  if (text !== undefined && text !== "") Object.assign(metadata, JSON.parse(text) as object);
  return deepFreeze(metadata) as Metadata;
}

/** The stored fields of one variable, as the read script returns them. */
export interface StoredVariable {
  readonly id: string;
  readonly header: string;
  readonly metadata: string;
  readonly version: string;
  readonly updatedAt: string;
  readonly source: string;
  /** The value's bytes (empty while `blob` names where they are). */
  readonly value: Buffer;
  /** The blobs-hash field holding the value, for a large one not yet fetched. */
  readonly blob?: string;
}

/** Builds the variable a store returns from its stored fields. */
export function decodeVariable(stored: StoredVariable, header = decodeHeader(stored.header)): Variable {
  return Object.freeze({
    id: stored.id,
    name: header.name,
    type: header.type,
    value: decodeStoredValue(header.type, stored.value),
    constraints: header.constraints,
    metadata: decodeMetadata(stored.metadata),
    version: Number(stored.version),
    createdAt: header.createdAt,
    updatedAt: Number(stored.updatedAt),
    source: stored.source,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/** Values from this size on are stored as blobs, outside every script (see scripts.ts). */
export const BLOB_THRESHOLD_BYTES = 64 * 1024;

const INLINE_TAG = Buffer.from("v", "latin1");

/** A value stored in place: `v` and its bytes. */
export function inlineStored(bytes: Buffer): Buffer {
  return Buffer.concat([INLINE_TAG, bytes]);
}

/** A reference to a blob field: `b<length>:<field>`. */
export function blobReference(length: number, field: string): string {
  return `b${length}:${field}`;
}

/** Whether a stored value is a reference to a blob rather than the bytes in place. */
export function isBlob(stored: Buffer): boolean {
  return stored[0] === 0x62;
}

/** What a stored value is: its bytes in place, or the blob field holding them. */
export function parseStored(stored: Buffer): { readonly bytes: Buffer } | { readonly blob: string } {
  if (isBlob(stored)) {
    const text = stored.toString("latin1");
    return { blob: text.slice(text.indexOf(":") + 1) };
  }
  return { bytes: stored.subarray(1) };
}
