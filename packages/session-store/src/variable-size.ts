import {
  type Constraints,
  StateError,
  type VariableType,
  type VariableValue,
} from "@statebridge/state-provider";
import { jsonByteLength, RECORD_OVERHEAD_BYTES, valueByteLength } from "./value-size.js";

/** What one variable holds, in bytes: its record, its value, its metadata. */
export interface VariableSize {
  /** The fixed part: overhead, name and constraints. */
  readonly fixed: number;
  value: number;
  metadata: number;
}

/** The fixed bytes of a variable: its record's overhead, its name and its constraints. */
export function fixedBytesOf(name: string, constraints: Constraints): number {
  return RECORD_OVERHEAD_BYTES + name.length + jsonByteLength(constraints);
}

/**
 * The size of a value of variable `name`.
 *
 * @throws `resource_exhausted` when it is above `maxValueBytes`.
 */
export function checkValueSize(
  name: string,
  type: VariableType,
  value: VariableValue,
  maxValueBytes: number,
): number {
  const valueBytes = valueByteLength(type, value);
  if (valueBytes > maxValueBytes) {
    throw new StateError(
      "resource_exhausted",
      `${JSON.stringify(name)} is ${valueBytes} bytes, above the limit of ${maxValueBytes} bytes per value`,
    );
  }
  return valueBytes;
}
