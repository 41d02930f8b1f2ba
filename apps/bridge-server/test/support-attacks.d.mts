/** A gRPC envelope: a flag byte, a 4-byte big-endian length (the message's unless given), the message. */
export function envelope(message: Uint8Array, flags?: number, declaredLength?: number): Uint8Array;
/** A gzip member that inflates to `bytes` zero bytes, from a few hundred bytes (or KiB) on the wire. */
export function gzipBomb(bytes: number): Buffer;
