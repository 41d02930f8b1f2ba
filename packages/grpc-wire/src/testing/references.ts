import { expect } from "vitest";

/**
 * Expects a hand-written decoder to agree with protobuf-es's `fromBinary` (`reference`): the
 * same message, or `undefined` (left to fromBinary), and `undefined` wherever fromBinary throws.
 */
export function expectAgreement(decoded: object | undefined, reference: () => object): void {
  let expected: object;
  try {
    expected = reference();
  } catch {
    expect(decoded).toBeUndefined();
    return;
  }
  if (decoded !== undefined) expect(decoded).toEqual(expected);
}

/**
 * One uncompressed gRPC envelope around `message`, written independently of the product's
 * framing: what an encoder that writes straight into its envelope must equal.
 */
export function envelopeOf(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.byteLength);
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, 5);
  return framed;
}
