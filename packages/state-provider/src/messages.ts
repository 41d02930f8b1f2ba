/** Quotes a variable name for a message, cut short past 80 characters. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
}

/** Quotes a text value for a message, cut short past 80 characters. */
export function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** Lists allowed strings for a message: the first ten, then `...`. */
export function listOf(values: readonly string[]): string {
  const shown = values.slice(0, 10).map((value) => JSON.stringify(value));
  return `[${shown.join(", ")}${values.length > 10 ? ", ..." : ""}]`;
}

/** Writes a number for a message, telling -0 from 0. */
export function formatNumber(value: number): string {
  return Object.is(value, -0) ? "-0" : String(value);
}

/** A short description of any value for error messages: its kind and, if small, itself. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `string ${preview(value)}`;
  if (typeof value === "number") return `number ${formatNumber(value)}`;
  if (typeof value === "bigint") return `bigint ${value}`;
  if (typeof value === "boolean") return `boolean ${value}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    return prototype === null || prototype === Object.prototype
      ? "object"
      : (prototype.constructor?.name ?? "object");
  }
  return typeof value;
}
