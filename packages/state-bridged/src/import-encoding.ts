import { create, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { type ImportSessionRequest, ImportSessionRequestSchema, ValueSchema } from "@statebridge/proto";
import { encodeWireValue, type Variable } from "@statebridge/state-provider";

/** The field number of `ImportSessionRequest.variables`. */
const VARIABLES_FIELD = 4;
/** Room reserved for the length prefix of a nested message: a varint of up to 2^35 − 1. */
const LENGTH_ROOM = 5;

/**
 * Builds an `ImportSessionRequest` whose variables are already in binary form. protobuf-es
 * writes a repeated message field through its reflection API, one field at a time, and
 * encodes every string with its own `TextEncoder` call: for 100,000 variables that took most
 * of an import's client time. Here every variable is written straight into one buffer, and
 * handed to protobuf-es as an unknown field 4 per variable, which `toBinary` copies as it is:
 * on the wire the request is the same as one with the `variables` field filled.
 *
 * Only for a binary transport: a JSON codec drops unknown fields. The variables must be
 * validated and normalized (`parseExport`): they are encoded as they are.
 */
export function createPreEncodedImportRequest(request: {
  readonly sessionId: string;
  readonly revision: number;
  readonly metadataJson: string;
  readonly variables: readonly Variable[];
}): ImportSessionRequest {
  const message = create(ImportSessionRequestSchema, {
    sessionId: request.sessionId,
    revision: BigInt(request.revision),
    metadataJson: request.metadataJson,
  });
  const writer = new VariableWriter(request.variables.length * 96);
  const ends: number[] = [];
  for (const variable of request.variables) {
    writer.variable(variable);
    ends.push(writer.offset);
  }
  const bytes = writer.finish();
  const unknown: { no: number; wireType: WireType; data: Uint8Array }[] = [];
  let start = 0;
  for (const end of ends) {
    unknown.push({
      no: VARIABLES_FIELD,
      wireType: WireType.LengthDelimited,
      data: bytes.subarray(start, end),
    });
    start = end;
  }
  message.$unknown = unknown;
  return message;
}

/** Writes `statebridge.v1.Variable` messages, each with its length prefix, one after another. */
class VariableWriter {
  #buffer: Buffer;
  offset = 0;

  constructor(initialSize: number) {
    this.#buffer = Buffer.allocUnsafe(Math.max(initialSize, 1024));
  }

  /** Writes one variable as a length-delimited message (its tag is written by protobuf-es). */
  variable(variable: Variable): void {
    this.#ensure(LENGTH_ROOM);
    const start = this.offset;
    this.offset += LENGTH_ROOM;
    this.#string(1, variable.id);
    this.#string(2, variable.name);
    this.#string(3, variable.type);
    this.#value(variable);
    this.#string(5, jsonOf(variable.constraints));
    this.#string(6, jsonOf(variable.metadata));
    this.#int64(7, variable.version);
    this.#int64(8, Math.trunc(variable.createdAt));
    this.#int64(9, Math.trunc(variable.updatedAt));
    this.#string(10, variable.source);
    this.#closeLength(start);
  }

  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.offset);
  }

  #value(variable: Variable): void {
    this.#ensure(1 + LENGTH_ROOM);
    this.#buffer[this.offset++] = (4 << 3) | WireType.LengthDelimited;
    const start = this.offset;
    this.offset += LENGTH_ROOM;
    const value = variable.value;
    switch (variable.type) {
      case "float":
        this.#ensure(9);
        this.#buffer[this.offset++] = (1 << 3) | WireType.Bit64;
        this.#buffer.writeDoubleLE(value as number, this.offset);
        this.offset += 8;
        break;
      case "integer":
        this.#ensure(11);
        this.#buffer[this.offset++] = (2 << 3) | WireType.Varint;
        this.#varint64(value as number);
        break;
      case "boolean":
        this.#ensure(2);
        this.#buffer[this.offset++] = (4 << 3) | WireType.Varint;
        this.#buffer[this.offset++] = value === true ? 1 : 0;
        break;
      case "string":
        this.#stringAlways(3, value as string);
        break;
      case "choice":
        this.#stringAlways(5, value as string);
        break;
      case "module":
        this.#stringAlways(6, value as string);
        break;
      default:
        // Embeddings and tensors are one packed byte field each: protobuf-es writes them at
        // no extra cost per element.
        this.#raw(
          toBinary(
            ValueSchema,
            create(ValueSchema, { kind: encodeWireValue(variable.type, value) as never }),
          ),
        );
    }
    this.#closeLength(start);
  }

  /** Writes a string field, skipped when empty as proto3 does. */
  #string(field: number, text: string): void {
    if (text.length > 0) this.#stringAlways(field, text);
  }

  #stringAlways(field: number, text: string): void {
    const length = text.length;
    this.#ensure(1 + LENGTH_ROOM + length * 3);
    const buffer = this.#buffer;
    buffer[this.offset++] = (field << 3) | WireType.LengthDelimited;
    let ascii = true;
    for (let index = 0; index < length; index++) {
      if (text.charCodeAt(index) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.#varint(length);
      let offset = this.offset;
      for (let index = 0; index < length; index++) buffer[offset++] = text.charCodeAt(index);
      this.offset = offset;
    } else {
      this.#varint(Buffer.byteLength(text, "utf8"));
      this.offset += buffer.write(text, this.offset, "utf8");
    }
  }

  /** Writes an int64 field holding a non-negative safe integer, skipped when zero. */
  #int64(field: number, value: number): void {
    if (value === 0) return;
    this.#ensure(11);
    this.#buffer[this.offset++] = (field << 3) | WireType.Varint;
    this.#varint64(value);
  }

  /** Writes a safe integer as an int64 varint (two's complement, 10 bytes, when negative). */
  #varint64(value: number): void {
    if (value < 0) {
      let rest = BigInt.asUintN(64, BigInt(value));
      while (rest > 0x7fn) {
        this.#buffer[this.offset++] = Number(rest & 0x7fn) | 0x80;
        rest >>= 7n;
      }
      this.#buffer[this.offset++] = Number(rest);
      return;
    }
    this.#varint(value);
  }

  /** Writes a non-negative safe integer as a varint (room ensured by the caller). */
  #varint(value: number): void {
    let rest = value;
    while (rest > 0x7f) {
      this.#buffer[this.offset++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.#buffer[this.offset++] = rest;
  }

  #raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buffer.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /**
   * Writes the length of the message that starts at `start` (after `LENGTH_ROOM` reserved
   * bytes) and moves its body back over the room the length did not need.
   */
  #closeLength(start: number): void {
    const bodyStart = start + LENGTH_ROOM;
    const length = this.offset - bodyStart;
    this.offset = start;
    this.#varint(length);
    if (this.offset !== bodyStart) this.#buffer.copyWithin(this.offset, bodyStart, bodyStart + length);
    this.offset += length;
  }

  #ensure(room: number): void {
    if (this.offset + room <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.offset + room));
    this.#buffer.copy(grown, 0, 0, this.offset);
    this.#buffer = grown;
  }
}

/** An object as a JSON text field; an empty object is the empty string. */
function jsonOf(value: object): string {
  for (const _key in value) return JSON.stringify(value);
  return "";
}
