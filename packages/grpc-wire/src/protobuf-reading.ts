// Protobuf wire reading for the decoders that read a hot message without protobuf-es's
// reflection (the client's GetVariable responses, the server's GetVariable requests). Each
// such decoder is held to `fromBinary` by a differential test; this reader yields what
// protobuf-es's BinaryReader yields for the forms it accepts and refuses the rest.

/** Thrown by {@link ProtobufReader} for bytes a hand-written decoder leaves to protobuf-es. */
export const UNUSUAL_ENCODING: unique symbol = Symbol("unusual protobuf encoding");

/** proto3 strings are checked: protobuf-es refuses invalid UTF-8 there, so this reader does too. */
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Short ASCII strings decoded recently, in sets of two by a hash of their bytes. The same few
 * strings come in call after call (a session id, variable names and ids, types, sources):
 * handing out the string decoded before allocates nothing, and a Map keyed by it finds its
 * hash already computed. A string is only handed out for bytes equal to its own. At most
 * 2,048 strings of at most 64 bytes are held.
 */
const interned: (string | undefined)[] = new Array(2048).fill(undefined);
/** Selects a set: its first slot (even), the second one after it. */
const INTERNED_SET_MASK = 2046;
/** Longer strings are decoded each time: they are rarely the same twice. */
const MAX_INTERNED_BYTES = 64;

/**
 * The ASCII text of `bytes[start, end)`, the interned copy when there is one.
 * @returns undefined for bytes that are not all ASCII.
 */
function internedAscii(bytes: Uint8Array, start: number, end: number): string | undefined {
  let hash = end - start;
  for (let index = start; index < end; index++) {
    const byte = bytes[index] as number;
    if (byte >= 0x80) return undefined;
    hash = (Math.imul(hash, 31) + byte) | 0;
  }
  const slot = (hash ^ (hash >>> 11)) & INTERNED_SET_MASK;
  const recent = interned[slot];
  if (recent !== undefined && sameAscii(recent, bytes, start, end)) return recent;
  const older = interned[slot + 1];
  if (older !== undefined && sameAscii(older, bytes, start, end)) {
    // The set's most recent string comes first.
    interned[slot] = older;
    interned[slot + 1] = recent;
    return older;
  }
  const text = textDecoder.decode(bytes.subarray(start, end));
  interned[slot + 1] = recent;
  interned[slot] = text;
  return text;
}

function sameAscii(text: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let index = 0; index < text.length; index++) {
    if (text.charCodeAt(index) !== bytes[start + index]) return false;
  }
  return true;
}

/** Eight bytes of a double, read through one shared buffer: no DataView per message. */
const doubleBytes = new Uint8Array(8);
const doubleValue = new Float64Array(doubleBytes.buffer);
/** The byte of the shared buffer that takes the wire's first (least significant) byte. */
const FIRST_DOUBLE_BYTE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 7;

/**
 * A cursor over one message's bytes for the hand-written decoders of hot messages. Every read
 * past `end`, varint beyond 7 bytes or invalid UTF-8 throws {@link UNUSUAL_ENCODING}: the
 * decoder then leaves the bytes to protobuf-es's fromBinary, which reads every form.
 */
export class ProtobufReader {
  position = 0;
  readonly end: number;
  private readonly source: Uint8Array;

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
    const start = this.position;
    this.position = end;
    if (end - start <= MAX_INTERNED_BYTES) {
      const text = internedAscii(this.source, start, end);
      if (text !== undefined) return text;
    }
    try {
      return textDecoder.decode(this.source.subarray(start, end));
    } catch {
      throw UNUSUAL_ENCODING;
    }
  }

  /** A view of the bytes, as protobuf-es's reader returns. */
  bytes(): Uint8Array {
    const end = this.lengthEnd();
    const view = this.source.subarray(this.position, end);
    this.position = end;
    return view;
  }

  /** A double, little-endian on the wire. */
  double(): number {
    const start = this.position;
    if (start + 8 > this.end) throw UNUSUAL_ENCODING;
    const source = this.source;
    for (let index = 0; index < 8; index++) {
      doubleBytes[FIRST_DOUBLE_BYTE === 0 ? index : 7 - index] = source[start + index] as number;
    }
    this.position = start + 8;
    return doubleValue[0] as number;
  }
}

/**
 * Reads a message's top-level fields into `message`: `readField` is given each field's tag
 * with the reader at its value, and returns false for a field left to protobuf-es.
 * @returns `message`, or undefined for bytes left to `fromBinary` (a refused field, {@link UNUSUAL_ENCODING}).
 */
export function readMessage<M>(
  bytes: Uint8Array,
  message: M,
  readField: (reader: ProtobufReader, tag: number, message: M) => boolean,
): M | undefined {
  const reader = new ProtobufReader(bytes);
  try {
    while (reader.position < reader.end) {
      if (!readField(reader, reader.byte(), message)) return undefined;
    }
  } catch (error) {
    if (error === UNUSUAL_ENCODING) return undefined;
    throw error;
  }
  return message;
}
