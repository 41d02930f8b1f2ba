import { describe, expect, it } from "vitest";
import { decodeValue, editText, formatNumber, parseValue } from "./values.js";

describe("values as the page reads and writes them", () => {
  it("reads back what editText writes, for every type", () => {
    const cases: [string, string][] = [
      ["float", "0.75"],
      ["float", "NaN"],
      ["float", "-Infinity"],
      ["integer", "9007199254740991"],
      ["string", "hello"],
      ["choice", "react"],
      ["module", "dspy.Predict"],
      ["boolean", "false"],
      ["embedding", "[0.5,-1,3]"],
      ["tensor", '{"shape":[2,2],"data":[1,2,3,4]}'],
    ];
    for (const [type, text] of cases)
      expect([type, editText(decodeValue(parseValue(type, text)))]).toEqual([type, text]);
  });

  it("refuses text that is not a value of the type, saying why", () => {
    expect(() => parseValue("float", "abc")).toThrow('"abc" is not a number');
    expect(() => parseValue("integer", "1.5")).toThrow("not a whole number");
    expect(() => parseValue("boolean", "yes")).toThrow("expected true or false");
    expect(() => parseValue("embedding", '["a"]')).toThrow("array of numbers");
  });

  it("prints special numbers by name", () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, -0.1234567].map(formatNumber)).toEqual([
      "NaN",
      "Infinity",
      "-0.123457",
    ]);
  });
});
