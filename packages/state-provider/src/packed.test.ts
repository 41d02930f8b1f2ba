import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packFloat64, unpackFloat64 } from "./packed.js";

describe("packFloat64 and unpackFloat64", () => {
  it("packs little-endian IEEE 754 doubles", () => {
    expect([...packFloat64([1])]).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    expect([...packFloat64([-2])]).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0]);
    expect([...packFloat64([-0])]).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80]);
    expect(packFloat64([]).byteLength).toBe(0);
  });

  it("round-trips NaN, ±Infinity, -0, subnormals and the extremes exactly", () => {
    const values = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      0,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      0.1,
    ];
    const unpacked = unpackFloat64(packFloat64(values)) as number[];
    expect(unpacked).toHaveLength(values.length);
    for (const [index, value] of values.entries()) {
      expect(Object.is(unpacked[index], value), `element ${index}`).toBe(true);
    }
  });

  it("accepts a Float64Array and a Float32Array, and returns a copy the caller may change", () => {
    const source = Float64Array.from([1.5, 2.5]);
    const packed = packFloat64(source);
    packed[0] = 0xff;
    expect(source[0]).toBe(1.5);
    expect(unpackFloat64(packFloat64(Float32Array.from([0.1])))).toEqual([Math.fround(0.1)]);
  });

  it("packs a Float64Array view at an offset as only its own elements", () => {
    const buffer = Float64Array.from([9, 1, 2, 9]);
    const view = buffer.subarray(1, 3);
    expect(unpackFloat64(packFloat64(view))).toEqual([1, 2]);
  });

  it("unpacks bytes at any offset, also unaligned ones", () => {
    const packed = packFloat64([3.25, -7]);
    const larger = new Uint8Array(packed.length + 3);
    larger.set(packed, 3);
    expect(unpackFloat64(larger.subarray(3))).toEqual([3.25, -7]);
    const aligned = new Uint8Array(packed.length + 8);
    aligned.set(packed, 8);
    expect(unpackFloat64(aligned.subarray(8))).toEqual([3.25, -7]);
  });

  it("returns undefined for a byte length that is not a multiple of 8", () => {
    expect(unpackFloat64(new Uint8Array(7))).toBeUndefined();
    expect(unpackFloat64(new Uint8Array(9))).toBeUndefined();
    expect(unpackFloat64(new Uint8Array(0))).toEqual([]);
  });

  it("returns a plain array, not a typed array", () => {
    const unpacked = unpackFloat64(packFloat64([1, 2]));
    expect(Array.isArray(unpacked)).toBe(true);
  });

  it("round-trips any array of doubles bit-exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 64 }), (values) => {
        const unpacked = unpackFloat64(packFloat64(values)) as number[];
        expect(unpacked.length).toBe(values.length);
        for (let index = 0; index < values.length; index++) {
          expect(Object.is(unpacked[index], values[index])).toBe(true);
        }
      }),
    );
  });

  it("round-trips 1,000,000 elements", () => {
    const values = Float64Array.from({ length: 1_000_000 }, (_, index) => index * 1.000001 - 500_000);
    const unpacked = unpackFloat64(packFloat64(values)) as number[];
    expect(unpacked.length).toBe(values.length);
    expect(unpacked.every((value, index) => value === values[index])).toBe(true);
  });

  // Regression: unpackFloat64 copied a misaligned view with `slice().buffer`; on a Node Buffer
  // `slice()` is a view, so `.buffer` was the whole pooled allocation and the "copy" held
  // whatever else lived in that pool (other requests' bytes), or NaN.
  it("any packed array at any offset inside a pooled Buffer round-trips exactly and reads nothing outside its bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double(), { maxLength: 64 }),
        fc.nat({ max: 512 }),
        fc.nat({ max: 64 }),
        fc.integer({ min: 0, max: 255 }),
        (values, before, after, fill) => {
          const packed = packFloat64(values);
          // Buffer.allocUnsafe hands out slices of a shared pool for small sizes; fill every
          // byte around the packed array with a marker that must not leak into the result.
          const pooled = Buffer.allocUnsafe(before + packed.byteLength + after);
          pooled.fill(fill);
          pooled.set(packed, before);
          const view = pooled.subarray(before, before + packed.byteLength);
          const unpacked = unpackFloat64(view) as number[];
          expect(unpacked).toHaveLength(values.length);
          for (const [index, value] of values.entries()) {
            expect(Object.is(unpacked[index], value), `element ${index} of ${values.length}`).toBe(true);
          }
          // Packing from a Buffer-backed Float64Array view copies only its own bytes too.
          const repacked = packFloat64(new Float64Array(unpacked));
          expect(Buffer.from(repacked).equals(Buffer.from(packed))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
