// Translates an ECMAScript pattern (u flag, no other flag, already known to parse) into RE2
// syntax with the same meaning. Where the two dialects differ, the ECMAScript meaning is
// spelled out: `.` excludes the four line terminators, `\s` is ECMAScript's white space, and
// every literal becomes `\x{…}` so that nothing reads as RE2-only syntax (`[[:alpha:]]`).
// Backreferences, lookaround and inline modifiers have no linear-time equivalent: refused.

/**
 * A translation, with the sum of its repetition counts (a cheap bound on how large RE2's
 * program grows, checked before compiling it), or what made it impossible.
 */
export type Translation =
  | { readonly source: string; readonly repetitions: number }
  | { readonly refused: string };

type Range = readonly [number, number];

const MAX_CODE_POINT = 0x10ffff;
const LINE_TERMINATORS: readonly Range[] = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];
/** ECMAScript's `\s`: WhiteSpace and LineTerminator (Unicode's Zs as V8 has it, and U+FEFF). */
export const WHITE_SPACE: readonly Range[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const ASCII: readonly Range[] = [[0x00, 0x7f]];

/** General_Category long names ECMAScript accepts, as the short ones RE2 knows. */
const CATEGORY_ALIASES: ReadonlyMap<string, string> = new Map([
  ["Letter", "L"],
  ["Cased_Letter", "LC"],
  ["Uppercase_Letter", "Lu"],
  ["Lowercase_Letter", "Ll"],
  ["Titlecase_Letter", "Lt"],
  ["Modifier_Letter", "Lm"],
  ["Other_Letter", "Lo"],
  ["Mark", "M"],
  ["Combining_Mark", "M"],
  ["Nonspacing_Mark", "Mn"],
  ["Spacing_Mark", "Mc"],
  ["Enclosing_Mark", "Me"],
  ["Number", "N"],
  ["Decimal_Number", "Nd"],
  ["digit", "Nd"],
  ["Letter_Number", "Nl"],
  ["Other_Number", "No"],
  ["Punctuation", "P"],
  ["punct", "P"],
  ["Connector_Punctuation", "Pc"],
  ["Dash_Punctuation", "Pd"],
  ["Open_Punctuation", "Ps"],
  ["Close_Punctuation", "Pe"],
  ["Initial_Punctuation", "Pi"],
  ["Final_Punctuation", "Pf"],
  ["Other_Punctuation", "Po"],
  ["Symbol", "S"],
  ["Math_Symbol", "Sm"],
  ["Currency_Symbol", "Sc"],
  ["Modifier_Symbol", "Sk"],
  ["Other_Symbol", "So"],
  ["Separator", "Z"],
  ["Space_Separator", "Zs"],
  ["Line_Separator", "Zl"],
  ["Paragraph_Separator", "Zp"],
  ["Other", "C"],
  ["Control", "Cc"],
  ["cntrl", "Cc"],
  ["Format", "Cf"],
  ["Surrogate", "Cs"],
  ["Private_Use", "Co"],
  ["Unassigned", "Cn"],
]);
const CATEGORY_SHORT = /^(?:[CLMNPSZ]|C[cfnos]|L[Clmotu]|M[cen]|N[dlo]|P[cdefios]|S[ckmo]|Z[lps])$/;

/** An atom of a character class: one code point, or a set spelled as RE2 class items. */
type ClassAtom = { readonly code: number } | { readonly items: string };

class Refused {
  constructor(readonly what: string) {}
}

/**
 * Translates `pattern` (valid ECMAScript with the `u` flag) into RE2 syntax that matches
 * exactly the same strings.
 * @returns the RE2 source, or what in the pattern has no linear-time equivalent.
 */
export function translateToRe2(pattern: string): Translation {
  try {
    const translator = new Translator(pattern);
    return { source: translator.translate(), repetitions: translator.repetitions };
  } catch (error) {
    if (error instanceof Refused) return { refused: error.what };
    throw error;
  }
}

class Translator {
  #index = 0;
  #repetitions = 0;

  constructor(readonly pattern: string) {}

  get repetitions(): number {
    return this.#repetitions;
  }

  translate(): string {
    const { pattern } = this;
    let out = "";
    while (this.#index < pattern.length) {
      const character = pattern[this.#index] as string;
      switch (character) {
        case "\\":
          out += this.#escapeOutsideClass();
          break;
        case "[":
          out += this.#characterClass();
          break;
        case "(":
          out += this.#groupOpening();
          break;
        case ".":
          out += `[^${items(LINE_TERMINATORS)}]`;
          this.#index++;
          break;
        case "{": {
          // A quantifier: the u flag makes any other brace a syntax error.
          const end = pattern.indexOf("}", this.#index);
          const counts = pattern.slice(this.#index + 1, end).split(",");
          this.#repetitions += Number(counts[counts.length - 1] || counts[0]);
          out += pattern.slice(this.#index, end + 1);
          this.#index = end + 1;
          break;
        }
        case ")":
        case "|":
        case "^":
        case "$":
        case "*":
        case "+":
        case "?":
          out += character;
          this.#index++;
          break;
        default:
          out += hex(this.#codePoint());
      }
    }
    return out;
  }

  #codePoint(): number {
    const code = this.pattern.codePointAt(this.#index) as number;
    this.#index += code > 0xffff ? 2 : 1;
    return code;
  }

  #groupOpening(): string {
    const { pattern } = this;
    const rest = pattern.slice(this.#index, this.#index + 4);
    if (rest.startsWith("(?:")) {
      this.#index += 3;
      return "(?:";
    }
    if (/^\(\?(?:[=!]|<[=!])/.test(rest)) throw new Refused("lookaround (?=, (?!, (?<= or (?<!)");
    if (rest.startsWith("(?<")) {
      // A named group: captures are never read, so it is a plain group.
      this.#index = pattern.indexOf(">", this.#index) + 1;
      return "(?:";
    }
    if (rest.startsWith("(?")) throw new Refused("an inline modifier group");
    this.#index++;
    return "(?:";
  }

  #escapeOutsideClass(): string {
    const next = this.pattern[this.#index + 1] as string;
    if ("dDwWbB".includes(next)) {
      this.#index += 2;
      return `\\${next}`;
    }
    if (next === "s" || next === "S") {
      this.#index += 2;
      return `[${next === "s" ? "" : "^"}${items(WHITE_SPACE)}]`;
    }
    if (/[1-9]/.test(next) || next === "k") throw new Refused("a backreference");
    const atom = this.#classAtomEscape(false);
    return "code" in atom ? hex(atom.code) : `[${atom.items}]`;
  }

  #characterClass(): string {
    const { pattern } = this;
    this.#index++;
    const negated = pattern[this.#index] === "^";
    if (negated) this.#index++;
    if (pattern[this.#index] === "]") {
      this.#index++;
      // [] matches nothing and [^] any code point.
      return negated ? `[${hex(0)}-${hex(MAX_CODE_POINT)}]` : `[^${hex(0)}-${hex(MAX_CODE_POINT)}]`;
    }
    let out = "";
    while (pattern[this.#index] !== "]") {
      const first = this.#classAtom();
      if ("code" in first && pattern[this.#index] === "-" && pattern[this.#index + 1] !== "]") {
        this.#index++;
        const last = this.#classAtom();
        // With the u flag a range between a code point and a set is a syntax error.
        out += `${hex(first.code)}-${hex((last as { code: number }).code)}`;
      } else {
        out += "code" in first ? hex(first.code) : first.items;
      }
    }
    this.#index++;
    return `[${negated ? "^" : ""}${out}]`;
  }

  #classAtom(): ClassAtom {
    if (this.pattern[this.#index] !== "\\") return { code: this.#codePoint() };
    const next = this.pattern[this.#index + 1] as string;
    if ("dDwW".includes(next)) {
      this.#index += 2;
      return { items: `\\${next}` };
    }
    if (next === "s" || next === "S") {
      this.#index += 2;
      return { items: items(next === "s" ? WHITE_SPACE : complement(WHITE_SPACE)) };
    }
    return this.#classAtomEscape(true);
  }

  /** An escape that stands for one code point or a Unicode property; `\` at the index. */
  #classAtomEscape(inClass: boolean): ClassAtom {
    const { pattern } = this;
    this.#index++;
    const letter = pattern[this.#index] as string;
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, "0": 0 };
    if (letter in simple) {
      this.#index++;
      return { code: simple[letter] as number };
    }
    if (letter === "b" && inClass) {
      this.#index++;
      return { code: 8 };
    }
    if (letter === "c") {
      const control = (pattern.charCodeAt(this.#index + 1) as number) % 32;
      this.#index += 2;
      return { code: control };
    }
    if (letter === "x") {
      const code = Number.parseInt(pattern.slice(this.#index + 1, this.#index + 3), 16);
      this.#index += 3;
      return { code };
    }
    if (letter === "u") return { code: this.#unicodeEscape() };
    if (letter === "p" || letter === "P") return this.#property(letter === "P");
    // An identity escape: a syntax character, "/", or "-" in a class.
    return { code: this.#codePoint() };
  }

  /** `\u{…}`, `\uXXXX`, or a surrogate pair of two `\uXXXX` (one code point with the u flag). */
  #unicodeEscape(): number {
    const { pattern } = this;
    if (pattern[this.#index + 1] === "{") {
      const end = pattern.indexOf("}", this.#index);
      const code = Number.parseInt(pattern.slice(this.#index + 2, end), 16);
      this.#index = end + 1;
      return code;
    }
    const code = Number.parseInt(pattern.slice(this.#index + 1, this.#index + 5), 16);
    this.#index += 5;
    if (
      code >= 0xd800 &&
      code <= 0xdbff &&
      /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(pattern.slice(this.#index))
    ) {
      const low = Number.parseInt(pattern.slice(this.#index + 2, this.#index + 6), 16);
      this.#index += 6;
      return (code - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
    }
    return code;
  }

  /** `\p{…}` or `\P{…}`, the letter at the index. */
  #property(negated: boolean): ClassAtom {
    const { pattern } = this;
    const end = pattern.indexOf("}", this.#index);
    const body = pattern.slice(this.#index + 2, end);
    this.#index = end + 1;
    const [name, value] = body.includes("=") ? body.split("=", 2) : [undefined, body];
    const prefix = negated ? "\\P" : "\\p";
    if (name === "General_Category" || name === "gc" || name === undefined) {
      const category = CATEGORY_ALIASES.get(value as string) ?? value;
      if (category !== undefined && CATEGORY_SHORT.test(category)) return { items: `${prefix}{${category}}` };
      if (name !== undefined) throw new Refused(`the Unicode property \\p{${body}}`);
      if (value === "Any") return { items: `${prefix}{Any}` };
      if (value === "ASCII") return { items: items(negated ? complement(ASCII) : ASCII) };
      throw new Refused(`the Unicode property \\p{${body}}`);
    }
    if (name === "Script" || name === "sc") return { items: `${prefix}{${value}}` };
    throw new Refused(`the Unicode property \\p{${body}}`);
  }
}

function hex(code: number): string {
  return `\\x{${code.toString(16)}}`;
}

function items(ranges: readonly Range[]): string {
  return ranges.map(([low, high]) => (low === high ? hex(low) : `${hex(low)}-${hex(high)}`)).join("");
}

function complement(ranges: readonly Range[]): Range[] {
  const result: Range[] = [];
  let next = 0;
  for (const [low, high] of ranges) {
    if (low > next) result.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= MAX_CODE_POINT) result.push([next, MAX_CODE_POINT]);
  return result;
}
