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
