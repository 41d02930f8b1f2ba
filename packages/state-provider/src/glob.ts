import { StateError } from "./errors.js";
import { describe } from "./messages.js";

/**
 * Longest accepted `list()` pattern, in UTF-16 code units: twice the longest name, so that any
 * name with every character escaped still fits.
 */
export const MAX_GLOB_LENGTH = 2048;

/** A `*` of the compiled pattern; any other token is one code point, or {@link ANY}. */
const STAR = -1;
/** A `?` of the compiled pattern. */
const ANY = -2;

/**
 * Compiles a `list()` pattern: an anchored glob where `*` matches any run of characters
 * (also none), `?` exactly one character (code point), and `\` makes the next character
 * literal. Every other character, regex metacharacters included, is literal. A pattern without
 * `*`, `?` or `\` matches only the name equal to it. Matching takes at most
 * O(pattern × name) steps, never backtracking further than the last `*`.
 * @throws `invalid_value` for a non-string pattern, one longer than {@link MAX_GLOB_LENGTH},
 *   or one ending with a lone `\`.
 */
export function compileGlob(pattern: unknown): (name: string) => boolean {
  if (typeof pattern !== "string") {
    throw new StateError("invalid_value", `a list pattern must be a string, got ${describe(pattern)}`);
  }
  if (pattern.length > MAX_GLOB_LENGTH) {
    throw new StateError(
      "invalid_value",
      `a list pattern must be at most ${MAX_GLOB_LENGTH} characters, got ${pattern.length}`,
    );
  }
  const tokens: number[] = [];
  let plain = true;
  let required = 0;
  for (let index = 0; index < pattern.length; ) {
    let code = pattern.codePointAt(index) as number;
    index += code > 0xffff ? 2 : 1;
    if (code === 0x2a) {
      plain = false;
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR);
      continue;
    }
    if (code === 0x3f) {
      plain = false;
      code = ANY;
    } else if (code === 0x5c) {
      if (index >= pattern.length) {
        throw new StateError("invalid_value", `list pattern ${describe(pattern)} ends with a lone backslash`);
      }
      plain = false;
      code = pattern.codePointAt(index) as number;
      index += code > 0xffff ? 2 : 1;
    }
    tokens.push(code);
    required++;
  }
  if (plain) return (name) => name === pattern;
  // Every token but `*` takes at least one code unit: a shorter name cannot match.
  return (name) => name.length >= required && matchTokens(tokens, name);
}

/**
 * Matches greedily, and on a mismatch lets the last `*` take one more code point and resumes
 * after it. Earlier stars never need to take more: whatever they would take, the last one can.
 */
function matchTokens(tokens: readonly number[], name: string): boolean {
  let token = 0;
  let position = 0;
  let star = -1;
  let starPosition = 0;
  while (position < name.length) {
    if (token < tokens.length) {
      const expected = tokens[token] as number;
      if (expected === STAR) {
        star = token++;
        starPosition = position;
        continue;
      }
      const code = name.codePointAt(position) as number;
      if (expected === ANY || expected === code) {
        position += code > 0xffff ? 2 : 1;
        token++;
        continue;
      }
    }
    if (star < 0) return false;
    starPosition += (name.codePointAt(starPosition) as number) > 0xffff ? 2 : 1;
    position = starPosition;
    token = star + 1;
  }
  while (token < tokens.length && tokens[token] === STAR) token++;
  return token === tokens.length;
}
