import fc from "fast-check";

/** One change to encoded bytes: a byte set, the bytes cut short, or bytes inserted. */
export type Mutation =
  | { readonly kind: "set"; readonly at: number; readonly byte: number }
  | { readonly kind: "cut"; readonly at: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array };

/** Mutations at generated places (taken modulo the length of the bytes they change). */
export const arbitraryMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
  }),
);

/** `bytes` with `change` applied, as a copy (empty bytes can only grow by an insert). */
export function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  if (bytes.byteLength === 0) return new Uint8Array(change.kind === "insert" ? change.bytes : []);
  const at = change.at % bytes.byteLength;
  if (change.kind === "set") {
    const copy = bytes.slice();
    copy[at] = change.byte;
    return copy;
  }
  if (change.kind === "cut") return bytes.slice(0, at);
  const copy = new Uint8Array(bytes.byteLength + change.bytes.byteLength);
  copy.set(bytes.subarray(0, at));
  copy.set(change.bytes, at);
  copy.set(bytes.subarray(at), at + change.bytes.byteLength);
  return copy;
}
