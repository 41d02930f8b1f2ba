import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStateError } from "./errors.js";
import { compileGlob } from "./glob.js";

function matches(pattern: string, names: readonly string[]): string[] {
  const test = compileGlob(pattern);
  return names.filter((name) => test(name));
}

describe("compileGlob", () => {
  const names = [
    "temp",
    "temperature",
    "atemp",
    "temp_max",
    "learning_rate",
    "_rate",
    "rate",
    "abc",
    "a.c",
    "ac",
    "abbc",
  ];

  it("* matches any run of characters, also none, and the pattern is anchored at both ends", () => {
    expect(matches("temp*", names)).toEqual(["temp", "temperature", "temp_max"]);
    expect(matches("*_rate", names)).toEqual(["learning_rate", "_rate"]);
    expect(matches("*", names)).toEqual(names);
    expect(matches("*e*", names)).toEqual([
      "temp",
      "temperature",
      "atemp",
      "temp_max",
      "learning_rate",
      "_rate",
      "rate",
    ]);
  });

  it("? matches exactly one character", () => {
    expect(matches("a?c", names)).toEqual(["abc", "a.c"]);
    expect(matches("????", names)).toEqual(["temp", "rate", "abbc"]);
  });

  it("? matches one code point, so an emoji counts as one character", () => {
    expect(compileGlob("?")("😀")).toBe(true);
    expect(compileGlob("??")("😀")).toBe(false);
    expect(compileGlob("a?b")("a😀b")).toBe(true);
  });

  it("* and ? match line breaks too", () => {
    expect(compileGlob("a*b")("a\nb")).toBe(true);
    expect(compileGlob("a?b")("a\rb")).toBe(true);
  });

  it("a backslash makes the next character literal, a backslash included", () => {
    expect(compileGlob("star\\*")("star*")).toBe(true);
    expect(compileGlob("star\\*")("starx")).toBe(false);
    expect(compileGlob("what\\?")("what?")).toBe(true);
    expect(compileGlob("what\\?")("whats")).toBe(false);
    expect(compileGlob("back\\\\slash")("back\\slash")).toBe(true);
    expect(compileGlob("\\a")("a")).toBe(true);
  });

  it("regex metacharacters in patterns are literal: no regex injection", () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["a.b", "a.b", "axb"],
      ["x+y", "x+y", "xxy"],
      ["(z)", "(z)", "z"],
      ["[q]", "[q]", "q"],
      ["^a$", "^a$", "a"],
      ["a|b", "a|b", "a"],
      ["a{2}", "a{2}", "aa"],
      ["a/b", "a/b", "a"],
      ["a-b", "a-b", "a"],
      ["(.*)*", "(.*)", "xyz"],
    ];
    for (const [pattern, literal, other] of cases) {
      expect(compileGlob(pattern)(literal), `${pattern} matches ${literal}`).toBe(true);
      expect(compileGlob(pattern)(other), `${pattern} does not match ${other}`).toBe(false);
    }
  });

  it("a hyphen next to a wildcard is literal (regression: it was escaped as \\-, a SyntaxError under the u flag)", () => {
    expect(matches("temp-*", ["temp-max", "temp_max", "temp-"])).toEqual(["temp-max", "temp-"]);
    expect(compileGlob("?-?")("a-b")).toBe(true);
    expect(compileGlob("\\-")("-")).toBe(true);
  });

  it("a pattern without wildcards matches only the equal name", () => {
    expect(matches("temp", names)).toEqual(["temp"]);
    expect(matches("", ["", "a"])).toEqual([""]);
    expect(compileGlob("__proto__")("__proto__")).toBe(true);
  });

  it("a pattern that is not a string, or ends with a lone backslash, is refused with invalid_value", () => {
    for (const pattern of [5, null, undefined, /a/, ["a"]]) {
      let thrown: unknown;
      try {
        compileGlob(pattern);
      } catch (error) {
        thrown = error;
      }
      expect(isStateError(thrown, "invalid_value"), String(pattern)).toBe(true);
    }
    expect(() => compileGlob("abc\\")).toThrow(/lone backslash/);
  });

  it("any name matches itself once its wildcards and backslashes are escaped", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.string({ maxLength: 3 }),
        (name, suffix) => {
          const escaped = name.replace(/[*?\\]/g, (character) => `\\${character}`);
          expect(compileGlob(escaped)(name)).toBe(true);
          if (suffix.length > 0) expect(compileGlob(escaped)(name + suffix)).toBe(false);
          expect(compileGlob(`${escaped}*`)(name + suffix)).toBe(true);
        },
      ),
    );
  });
});
