import { describe, expect, it } from "vitest";
import { ProtobufReader, UNUSUAL_ENCODING } from "./protobuf-reading.js";

/** Length-delimited fields of `texts`, as a writer frames them (lengths below 128). */
function stringFields(texts: readonly string[]): Uint8Array {
  const parts: number[] = [];
  for (const text of texts) {
    const bytes = Buffer.from(text, "utf8");
    parts.push(bytes.byteLength, ...bytes);
  }
  return Uint8Array.from(parts);
}

function readStrings(bytes: Uint8Array, count: number): string[] {
  const reader = new ProtobufReader(bytes);
  return Array.from({ length: count }, () => reader.string());
}

describe("ProtobufReader", () => {
  it("string() reads ASCII, multi-byte and long text, and the empty string", () => {
    const texts = ["temperature", "", "été ✓ 𝄞", "x".repeat(64), "y".repeat(65), "session_0123456789"];
    expect(readStrings(stringFields(texts), texts.length)).toEqual(texts);
  });

  // The reader hands out strings it decoded before for the same bytes: it must never hand one
  // out for other bytes, however many strings went through its table meanwhile.
  it("string() reads each text right when thousands of others come between two reads of it", () => {
    const texts = Array.from({ length: 5_000 }, (_, index) => `variable_${index}`);
    const shuffled = [...texts].reverse();
    expect(readStrings(stringFields(texts), texts.length)).toEqual(texts);
    expect(readStrings(stringFields(shuffled), shuffled.length)).toEqual(shuffled);
    // Same length, same characters in another order.
    expect(readStrings(stringFields(["ab", "ba", "ab", "ba"]), 4)).toEqual(["ab", "ba", "ab", "ba"]);
  });

  it("string() refuses invalid UTF-8 and a length past the end as unusual", () => {
    expect(() => new ProtobufReader(Uint8Array.from([2, 0xc3, 0x28])).string()).toThrow(
      expect.toSatisfy((error) => error === UNUSUAL_ENCODING),
    );
    expect(() => new ProtobufReader(Uint8Array.from([5, 0x61])).string()).toThrow(
      expect.toSatisfy((error) => error === UNUSUAL_ENCODING),
    );
  });

  it("double() reads little-endian doubles, -0, infinities and NaN, and refuses a short one", () => {
    const values = [1.5, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 2 ** -1074];
    const bytes = Buffer.alloc(8 * values.length);
    for (const [index, value] of values.entries()) bytes.writeDoubleLE(value, 8 * index);
    const reader = new ProtobufReader(bytes);
    for (const value of values) expect(Object.is(reader.double(), value)).toBe(true);
    expect(() => new ProtobufReader(bytes.subarray(0, 7)).double()).toThrow(
      expect.toSatisfy((error) => error === UNUSUAL_ENCODING),
    );
  });
});
