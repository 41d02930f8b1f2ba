import type { VariableType, VariableValue } from "@statebridge/state-provider";

/**
 * The size of a normalized value in bytes of its wire form: 8 per number (a float, an
 * integer, each element of an embedding or of a tensor's data), the UTF-8 length of text,
 * 1 for a boolean. This is what the `maxValueBytes` quota measures.
 */
export function valueByteLength(type: VariableType, value: VariableValue): number {
  if (typeof value === "string") return Buffer.byteLength(value, "utf8");
  if (typeof value === "number") return 8;
  if (typeof value === "boolean") return 1;
  if (type === "tensor" && !Array.isArray(value))
    return (value as { data: readonly number[] }).data.length * 8;
  return (value as readonly number[]).length * 8;
}

/**
 * What a variable or a change holds beyond its value and metadata (its object, id, name, type,
 * version, timestamps, source), counted as a fixed number of bytes. It keeps many tiny
 * variables from slipping under a budget that counted values alone.
 */
export const RECORD_OVERHEAD_BYTES = 256;

/** The length of an object (metadata, constraints) as JSON text; 0 for an empty one. */
export function jsonByteLength(value: object): number {
  for (const _key in value) return JSON.stringify(value).length;
  return 0;
}
