import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStateError } from "./errors.js";
import { compileGlob, MAX_GLOB_LENGTH } from "./glob.js";
import { MAX_NAME_LENGTH } from "./identifiers.js";

/** The regex the glob compiler used to build: the meaning the linear matcher must keep. */
function referenceGlob(pattern: string): (name: string) => boolean {
  let source = "^";
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index] as string;
    if (character === "*") source += "[\\s\\S]*";
    else if (character === "?") source += "[\\s\\S]";
    else
      source += (character === "\\" ? (pattern[++index] as string) : character).replace(
        /[\\^$.*+?()[\]{}|/]/,
        "\\$&",
      );
  }
  const regex = new RegExp(`${source}$`, "u");
  return (name) => regex.test(name);
}

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

  it("answers as the anchored regex it stands for, for any pattern and name", () => {
    const unit = fc.constantFrom("a", "b", "😀", "\n", "*", "?", "\\", ".");
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 10 }).filter((pattern) => !/(^|[^\\])(\\\\)*\\$/.test(pattern)),
        fc.array(fc.string({ unit: fc.constantFrom("a", "b", "😀", "\n", "*", "?", "\\"), maxLength: 10 }), {
          maxLength: 5,
        }),
        (pattern, names) => {
          const test = compileGlob(pattern);
          const reference = referenceGlob(pattern);
          for (const name of names) expect(test(name), `${pattern} on ${name}`).toBe(reference(name));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("*a*a*a*a*b against 160-character names answers exactly (regression: polynomial backtracking took seconds)", () => {
    const test = compileGlob("*a*a*a*a*b");
    expect(test("a".repeat(160))).toBe(false);
    expect(test(`${"a".repeat(159)}b`)).toBe(true);
    expect(test(`b${"a".repeat(159)}`)).toBe(false);
    expect(compileGlob(`${"*a".repeat(500)}*b`)("a".repeat(MAX_NAME_LENGTH))).toBe(false);
    expect(compileGlob(`*${"a".repeat(1000)}b`)("a".repeat(MAX_NAME_LENGTH))).toBe(false);
  });

  it(`a pattern longer than ${MAX_GLOB_LENGTH} characters, such as a 100,000-star glob, is refused with invalid_value (regression: it failed with internal)`, () => {
    let thrown: unknown;
    try {
      compileGlob("*".repeat(100_000));
    } catch (error) {
      thrown = error;
    }
    expect(isStateError(thrown, "invalid_value")).toBe(true);
    expect((thrown as Error).message).toMatch(/at most 2048 characters, got 100000/);
    expect(compileGlob("*".repeat(MAX_GLOB_LENGTH))("anything")).toBe(true);
  });

  it("any name, every character escaped, fits in the longest pattern", () => {
    const name = "*".repeat(MAX_NAME_LENGTH);
    expect(compileGlob(name.replace(/\*/g, "\\*"))(name)).toBe(true);
  });
});
