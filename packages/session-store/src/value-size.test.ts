import { describe, expect, it } from "vitest";
import { valueByteLength } from "./value-size.js";

describe("valueByteLength", () => {
  it("counts 8 bytes per number, UTF-8 bytes of text and 1 per boolean", () => {
    expect(valueByteLength("float", 1.5)).toBe(8);
    expect(valueByteLength("integer", 7)).toBe(8);
    expect(valueByteLength("boolean", true)).toBe(1);
    expect(valueByteLength("string", "abc")).toBe(3);
    expect(valueByteLength("string", "é😀")).toBe(6);
    expect(valueByteLength("module", "dspy.Predict")).toBe(12);
    expect(valueByteLength("embedding", [1, 2, 3])).toBe(24);
    expect(valueByteLength("tensor", { shape: [2, 2], data: [1, 2, 3, 4] })).toBe(32);
  });
});
