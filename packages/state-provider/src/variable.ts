/** The eight variable types. */
export const VARIABLE_TYPES = [
  "float",
  "integer",
  "string",
  "boolean",
  "choice",
  "module",
  "embedding",
  "tensor",
] as const;

/** One of {@link VARIABLE_TYPES}. */
export type VariableType = (typeof VARIABLE_TYPES)[number];

/** A tensor: `data` in row-major order, `data.length` equal to the product of `shape`. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/**
 * A stored, normalized value. Arrays and tensors are frozen: a value read from a provider can
 * be kept and shared without copying, and cannot change behind the provider's back.
 *
 * - float, integer: `number`
 * - string, choice, module: `string`
 * - boolean: `boolean`
 * - embedding: `readonly number[]`
 * - tensor: {@link Tensor}
 */
export type VariableValue = number | string | boolean | readonly number[] | Tensor;

/** A JSON-compatible value, as metadata holds. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** Free-form metadata of a variable: a JSON-compatible map. Updates merge into it. */
export type Metadata = { readonly [key: string]: JsonValue };

/**
 * Constraints, per type. Each type accepts only its own keys; any other key is refused at
 * register time with `invalid_value`.
 *
 * | type | keys |
 * |---|---|
 * | float, integer | `min`, `max` |
 * | string | `minLength`, `maxLength` (code points), `pattern` (ECMAScript, `u` flag, anchored as written), `enum` |
 * | choice | `choices` (required, non-empty) |
 * | module | `choices`, `pattern`, `namespace` |
 * | embedding | `dimensions` |
 * | tensor | `shape` |
 */
export interface Constraints {
  readonly min?: number;
  readonly max?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
  readonly choices?: readonly string[];
  readonly namespace?: string;
  readonly dimensions?: number;
  readonly shape?: readonly number[];
}

/** A variable as a provider stores it. */
export interface Variable {
  /** Opaque, unique in the session, stable for the variable's life, also across migration. */
  readonly id: string;
  /** Unique in the session. */
  readonly name: string;
  readonly type: VariableType;
  /** The normalized value. */
  readonly value: VariableValue;
  readonly constraints: Constraints;
  readonly metadata: Metadata;
  /** 0 at register, +1 on every change of this variable. */
  readonly version: number;
  /** Wall-clock epoch milliseconds. */
  readonly createdAt: number;
  /** Wall-clock epoch milliseconds of the last change. */
  readonly updatedAt: number;
  /** Who wrote last: `typescript`, `python`, or a name the client gave. */
  readonly source: string;
}

/** What `register()` returns. */
export interface RegisteredVariable {
  readonly id: string;
  readonly name: string;
  readonly type: VariableType;
  /** Always 0. */
  readonly version: number;
  /** The session revision the registration took. */
  readonly revision: number;
}
