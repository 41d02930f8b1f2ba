import { StateError } from "./errors.js";
import { describe } from "./type-system.js";

/**
 * Compiles a `list()` pattern: an anchored glob where `*` matches any run of characters
 * (also none), `?` exactly one character, and `\` makes the next character literal. Every other
 * character, regex metacharacters included, is literal. A pattern without `*`, `?` or `\`
 * matches only the name equal to it.
 * @throws `invalid_value` for a non-string pattern or a trailing lone `\`.
 */
export function compileGlob(pattern: unknown): (name: string) => boolean {
  if (typeof pattern !== "string") {
    throw new StateError("invalid_value", `a list pattern must be a string, got ${describe(pattern)}`);
  }
  let source = "^";
  let plain = true;
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index] as string;
    if (character === "*") {
      source += "[\\s\\S]*";
      plain = false;
    } else if (character === "?") {
      source += "[\\s\\S]";
      plain = false;
    } else if (character === "\\") {
      const next = pattern[index + 1];
      if (next === undefined) {
        throw new StateError(
          "invalid_value",
          `list pattern ${JSON.stringify(pattern)} ends with a lone backslash`,
        );
      }
      source += escapeRegExp(next);
      index++;
      plain = false;
    } else {
      source += escapeRegExp(character);
    }
  }
  if (plain) return (name) => name === pattern;
  const regex = new RegExp(`${source}$`, "u");
  return (name) => regex.test(name);
}

function escapeRegExp(character: string): string {
  // Only syntax characters and "/" may be escaped under the u flag; "-" is literal outside a class.
  return /[\\^$.*+?()[\]{}|/]/.test(character) ? `\\${character}` : character;
}
