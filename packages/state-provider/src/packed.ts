import { endianness } from "node:os";

const littleEndian = endianness() === "LE";

/**
 * Packs numbers as little-endian IEEE 754 doubles: the one binary format numeric arrays use
 * on the wire and in exports, in every language. NaN, ±Infinity and -0 survive.
 */
export function packFloat64(values: ArrayLike<number>): Uint8Array {
  const array = values instanceof Float64Array ? values : Float64Array.from(values);
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  return littleEndian ? (array === values ? copyOf(bytes) : bytes) : swap(copyOf(bytes));
}

/**
 * Copies exactly the bytes of `view` into a new buffer of their own. Not `view.slice()`: on a
 * Node `Buffer` that is another view of the same memory, and `.buffer` of it is the whole,
 * possibly pooled, allocation — other requests' bytes included.
 */
function copyOf(view: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(view);
}

/**
 * Unpacks little-endian doubles into a plain array.
 * @returns `undefined` if the byte length is not a multiple of 8.
 */
export function unpackFloat64(bytes: Uint8Array): number[] | undefined {
  if (bytes.byteLength % 8 !== 0) return undefined;
  let source = bytes;
  if (!littleEndian) source = swap(copyOf(bytes));
  // Copy to an aligned buffer: a view into a larger message may start at any offset.
  const aligned =
    source.byteOffset % 8 === 0
      ? new Float64Array(source.buffer, source.byteOffset, source.byteLength / 8)
      : new Float64Array(copyOf(source).buffer);
  return Array.from(aligned);
}

function swap(bytes: Uint8Array): Uint8Array {
  for (let index = 0; index < bytes.length; index += 8) bytes.subarray(index, index + 8).reverse();
  return bytes;
}
