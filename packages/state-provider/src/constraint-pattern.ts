import { RE2JS } from "re2js";
import { StateError } from "./errors.js";
import { translateToRe2 } from "./pattern-translation.js";

/** Longest accepted `pattern` constraint, in UTF-16 code units. */
export const MAX_PATTERN_LENGTH = 1024;
/**
 * Largest accepted RE2 program of a `pattern` constraint, in instructions. Matching costs at
 * most this much per character of a value, and a counted repetition (`a{1000}`) takes one
 * instruction per count: without a bound, 1,024 characters of pattern made 146,000.
 */
export const MAX_PATTERN_PROGRAM_SIZE = 2000;

/** A compiled `pattern` constraint. */
export interface ConstraintPattern {
  /** The pattern as written: ECMAScript syntax, as with the `u` flag. */
  readonly source: string;
  /**
   * Tells whether the pattern matches somewhere in `text` (anchored only as written), in time
   * linear in the length of `text` whatever the pattern.
   */
  test(text: string): boolean;
}

const cache = new Map<string, ConstraintPattern>();
const CACHE_SIZE = 1000;

/**
 * Compiles a `pattern` constraint: an ECMAScript regular expression with the `u` flag,
 * anchored only as written, evaluated by RE2 (re2js) so that no value takes more than linear
 * time. Constructs that only a backtracking engine can run (backreferences, lookahead,
 * lookbehind), repetition counts above 1,000 and programs above
 * {@link MAX_PATTERN_PROGRAM_SIZE} instructions are refused; the package README lists the
 * whole syntax.
 * @throws `invalid_value` for a pattern longer than {@link MAX_PATTERN_LENGTH}, one that does
 *   not compile, or one that cannot run in linear time.
 */
export function compilePattern(pattern: string): ConstraintPattern {
  const cached = cache.get(pattern);
  if (cached !== undefined) return cached;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new StateError(
      "invalid_value",
      `constraint pattern is longer than ${MAX_PATTERN_LENGTH} characters (${pattern.length})`,
    );
  }
  try {
    // Parsing only: the pattern is never run by the backtracking engine.
    new RegExp(pattern, "u");
  } catch (error) {
    throw new StateError(
      "invalid_value",
      `constraint pattern ${quote(pattern)} does not compile: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const translated = translateToRe2(pattern);
  if ("refused" in translated) {
    throw new StateError(
      "invalid_value",
      `constraint pattern ${quote(pattern)} uses ${translated.refused}, which cannot be matched in linear time or is not supported`,
    );
  }
  if (translated.repetitions > MAX_PATTERN_PROGRAM_SIZE) {
    throw tooLarge(pattern, `its repetition counts add up to ${translated.repetitions}`);
  }
  let engine: RE2JS;
  try {
    engine = RE2JS.compile(translated.source);
  } catch (error) {
    throw new StateError(
      "invalid_value",
      `constraint pattern ${quote(pattern)} cannot be matched in linear time: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (engine.programSize() > MAX_PATTERN_PROGRAM_SIZE) {
    throw tooLarge(pattern, `it compiles to ${engine.programSize()} instructions`);
  }
  const compiled: ConstraintPattern = Object.freeze({
    source: pattern,
    test: (text: string) => engine.test(text),
  });
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

function tooLarge(pattern: string, why: string): StateError {
  return new StateError(
    "invalid_value",
    `constraint pattern ${quote(pattern)} is too large to match in bounded time: ${why}, more than ${MAX_PATTERN_PROGRAM_SIZE}`,
  );
}

function quote(pattern: string): string {
  return JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 77)}...` : pattern);
}
