// Protobuf wire primitives for the encoders that write a hot message straight into its
// envelope instead of through protobuf-es's writer (the server's GetVariable responses, the
// client's GetVariable requests). Each such encoder is held byte-equal to `toBinary` by a
// differential test; these primitives write exactly what protobuf-es's BinaryWriter writes.

/** The bytes of `value` as an unsigned varint (any whole number from 0 to 2^53 − 1). */
export function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** Writes `value` as an unsigned varint at `start`; returns the offset after it. */
export function writeVarint(buffer: Uint8Array, start: number, value: number): number {
  let offset = start;
  let rest = value;
  while (rest >= 0x80) {
    buffer[offset++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buffer[offset++] = rest;
  return offset;
}

/**
 * The UTF-8 length of `value` as TextEncoder (and so protobuf-es) encodes it: a lone
 * surrogate becomes U+FFFD, 3 bytes.
 */
export function utf8Length(value: string): number {
  let length = value.length;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) {
      length += 1;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < value.length) {
      const next = value.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: two UTF-16 units, four bytes.
        length += 2;
        index++;
        continue;
      }
    }
    length += 2;
  }
  return length;
}

/** The bytes of a string field whose number fits a one-byte tag (1 to 15): tag, length, UTF-8. */
export function stringFieldSize(value: string): number {
  const length = utf8Length(value);
  return 1 + varintSize(length) + length;
}

/**
 * Writes a string field (`tag` is its one-byte key, `number << 3 | 2`) at `start`; returns
 * the offset after it. `buffer` must have room for {@link stringFieldSize} bytes.
 */
export function writeStringField(buffer: Buffer, start: number, tag: number, value: string): number {
  let offset = start;
  buffer[offset++] = tag;
  const length = utf8Length(value);
  offset = writeVarint(buffer, offset, length);
  if (length === value.length && length <= 64) {
    // ASCII: a loop is cheaper than a call into the native encoder for short strings.
    for (let index = 0; index < length; index++) buffer[offset + index] = value.charCodeAt(index);
  } else {
    buffer.write(value, offset, length, "utf8");
  }
  return offset + length;
}

/**
 * A buffer for one uncompressed gRPC envelope of `length` message bytes, its 5-byte header
 * written: the message goes from offset 5.
 */
export function allocateEnvelope(length: number): Buffer {
  const buffer = Buffer.allocUnsafe(5 + length);
  buffer[0] = 0;
  buffer.writeUInt32BE(length, 1);
  return buffer;
}
