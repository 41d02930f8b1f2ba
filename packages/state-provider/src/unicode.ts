/** Length in Unicode code points. */
export function codePointLength(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
    length++;
  }
  return length;
}

/** Tells whether a string has no lone surrogate. */
export function isWellFormed(text: string): boolean {
  // String.prototype.isWellFormed is Node 20+, but its typings need lib ES2024.
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
