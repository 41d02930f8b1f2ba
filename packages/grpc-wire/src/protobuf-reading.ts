// Protobuf wire reading for the decoders that read a hot message without protobuf-es's
// reflection (the client's GetVariable responses, the server's GetVariable requests). Each
// such decoder is held to `fromBinary` by a differential test; this reader yields what
// protobuf-es's BinaryReader yields for the forms it accepts and refuses the rest.

/** Thrown by {@link ProtobufReader} for bytes a hand-written decoder leaves to protobuf-es. */
export const UNUSUAL_ENCODING: unique symbol = Symbol("unusual protobuf encoding");

/** proto3 strings are checked: protobuf-es refuses invalid UTF-8 there, so this reader does too. */
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A cursor over one message's bytes for the hand-written decoders of hot messages. Every read
 * past `end`, varint beyond 7 bytes or invalid UTF-8 throws {@link UNUSUAL_ENCODING}: the
 * decoder then leaves the bytes to protobuf-es's fromBinary, which reads every form.
 */
export class ProtobufReader {
  position = 0;
  readonly end: number;
  private readonly source: Uint8Array;
  private view: DataView | undefined;

  constructor(bytes: Uint8Array) {
    this.source = bytes;
    this.end = bytes.byteLength;
  }

  byte(): number {
    if (this.position >= this.end) throw UNUSUAL_ENCODING;
    return this.source[this.position++] as number;
  }

  /** A varint of at most 7 bytes (below 2^49), as a number. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < 7; index++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw UNUSUAL_ENCODING;
  }

  int64(): bigint {
    return BigInt(this.varint());
  }

  /** Reads a length and returns where the length-delimited field ends. */
  lengthEnd(): number {
    const length = this.varint();
    const end = this.position + length;
    if (end > this.end) throw UNUSUAL_ENCODING;
    return end;
  }

  string(): string {
    const end = this.lengthEnd();
    const bytes = this.source;
    let ascii = end - this.position <= 64;
    for (let index = this.position; ascii && index < end; index++) ascii = (bytes[index] as number) < 0x80;
    let text: string;
    if (ascii) {
      text = "";
      for (let index = this.position; index < end; index++)
        text += String.fromCharCode(bytes[index] as number);
    } else {
      try {
        text = textDecoder.decode(bytes.subarray(this.position, end));
      } catch {
        throw UNUSUAL_ENCODING;
      }
    }
    this.position = end;
    return text;
  }

  /** A view of the bytes, as protobuf-es's reader returns. */
  bytes(): Uint8Array {
    const end = this.lengthEnd();
    const view = this.source.subarray(this.position, end);
    this.position = end;
    return view;
  }

  double(): number {
    if (this.position + 8 > this.end) throw UNUSUAL_ENCODING;
    this.view ??= new DataView(this.source.buffer, this.source.byteOffset, this.source.byteLength);
    const value = this.view.getFloat64(this.position, true);
    this.position += 8;
    return value;
  }
}
