// Attacks on a bridge-server, shared by test/attacks.test.ts (which asserts that the server's
// memory stays bounded and a bystander keeps being answered) and bench/attacks.bench.mjs at the
// root (which measures the bystander's latency). Plain JavaScript so that the benchmark runs it
// with node alone; support-attacks.d.mts types it for the tests.
import { gzipSync } from "node:zlib";

/** A gRPC envelope: a flag byte, a 4-byte big-endian length (the message's unless given), the message. */
export function envelope(message, flags = 0, declaredLength = message.byteLength) {
  const framed = new Uint8Array(5 + message.byteLength);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, declaredLength);
  framed.set(message, 5);
  return framed;
}

/** A gzip member that inflates to `bytes` zero bytes, from a few hundred bytes (or KiB) on the wire. */
export function gzipBomb(bytes) {
  return gzipSync(Buffer.alloc(bytes), { level: 9 });
}
