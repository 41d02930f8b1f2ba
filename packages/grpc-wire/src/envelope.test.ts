import { describe, expect, it } from "vitest";
import {
  COMPRESSED_FLAG,
  createEnvelopeReader,
  type EnvelopeReaderOptions,
  encodeEnvelope,
} from "./envelope.js";

interface Read {
  readonly messages: { readonly bytes: number[]; readonly compressed: boolean }[];
  readonly oversize: number[];
}

function reader(options?: EnvelopeReaderOptions) {
  const read: Read = { messages: [], oversize: [] };
  const envelopes = createEnvelopeReader(
    {
      onEnvelope(message, compressed) {
        expect(Buffer.isBuffer(message)).toBe(false);
        read.messages.push({ bytes: [...message], compressed });
      },
      onOversize(length) {
        read.oversize.push(length);
      },
    },
    options,
  );
  return { envelopes, read };
}

const first = Uint8Array.of(1, 2, 3);
const second = new Uint8Array(300).map((_, index) => index % 251);
const stream = Buffer.concat([
  encodeEnvelope(first),
  encodeEnvelope(new Uint8Array(0)),
  encodeEnvelope(second, COMPRESSED_FLAG),
]);
const expected = [
  { bytes: [1, 2, 3], compressed: false },
  { bytes: [], compressed: false },
  { bytes: [...second], compressed: true },
];

describe("createEnvelopeReader", () => {
  it("reads envelopes packed together in one chunk, in order, with their compressed flag", () => {
    const { envelopes, read } = reader();
    envelopes.push(stream);
    expect(read.messages).toEqual(expected);
    expect(envelopes.messages).toBe(3);
    expect(envelopes.receivedBytes).toBe(stream.byteLength);
    expect(envelopes.incomplete).toBe(false);
  });

  it("reads the same envelopes whatever byte the stream is split at", () => {
    for (let split = 0; split <= stream.byteLength; split++) {
      const { envelopes, read } = reader();
      envelopes.push(stream.subarray(0, split));
      envelopes.push(stream.subarray(split));
      expect(read.messages, `split at ${split}`).toEqual(expected);
      expect(envelopes.incomplete).toBe(false);
    }
  });

  it("reads the same envelopes arriving one byte at a time", () => {
    const { envelopes, read } = reader();
    for (let index = 0; index < stream.byteLength; index++) {
      envelopes.push(stream.subarray(index, index + 1));
      if (index < stream.byteLength - 1) expect(envelopes.incomplete || read.messages.length < 3).toBe(true);
    }
    expect(read.messages).toEqual(expected);
  });

  it("a message spread over chunks is a copy: the chunks' memory may be reused", () => {
    const framed = encodeEnvelope(Uint8Array.of(7, 8, 9, 10));
    const received: Uint8Array[] = [];
    const envelopes = createEnvelopeReader({
      onEnvelope: (message) => received.push(message),
      onOversize() {},
    });
    const chunk = Buffer.from(framed.subarray(0, 6));
    envelopes.push(chunk);
    chunk.fill(0);
    envelopes.push(framed.subarray(6));
    expect([...(received[0] as Uint8Array)]).toEqual([7, 8, 9, 10]);
  });

  it("refuses an oversize envelope from its header, before the body arrives, and then reads nothing", () => {
    const { envelopes, read } = reader({ maxMessageBytes: 100 });
    envelopes.push(encodeEnvelope(first));
    // Only the header of a 1 GiB message: the refusal cannot wait for its body.
    const header = Buffer.from([0, 0x40, 0, 0, 0]);
    envelopes.push(header.subarray(0, 3));
    expect(read.oversize).toEqual([]);
    envelopes.push(header.subarray(3));
    expect(read.oversize).toEqual([0x4000_0000]);
    expect(envelopes.stopped).toBe(true);
    envelopes.push(encodeEnvelope(first));
    expect(read.messages).toEqual([{ bytes: [1, 2, 3], compressed: false }]);
    expect(envelopes.messages).toBe(1);
  });

  it("accepts a message of exactly maxMessageBytes", () => {
    const { envelopes, read } = reader({ maxMessageBytes: 3 });
    envelopes.push(encodeEnvelope(first));
    expect(read.oversize).toEqual([]);
    expect(read.messages).toHaveLength(1);
  });

  it("reports a stream that ends inside a header or inside a message as incomplete", () => {
    for (const cut of [1, 4, 5, 7]) {
      const { envelopes, read } = reader();
      envelopes.push(encodeEnvelope(first).subarray(0, cut));
      expect(envelopes.incomplete, `cut at ${cut}`).toBe(true);
      expect(read.messages).toEqual([]);
      expect(envelopes.messages).toBe(0);
      expect(envelopes.receivedBytes).toBe(cut);
    }
  });

  it("stops reading when a handler stops it, even within one chunk", () => {
    const received: number[] = [];
    const envelopes = createEnvelopeReader({
      onEnvelope(message) {
        received.push(message.byteLength);
        envelopes.stop();
      },
      onOversize() {},
    });
    envelopes.push(stream);
    expect(received).toEqual([3]);
  });

  it("reads a length with the top bit set as the unsigned number it is", () => {
    const { envelopes, read } = reader({ maxMessageBytes: 10 });
    envelopes.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]));
    expect(read.oversize).toEqual([0xffff_ffff]);
  });
});

describe("encodeEnvelope", () => {
  it("writes the flags byte, the big-endian length and the message", () => {
    expect([...encodeEnvelope(Uint8Array.of(9, 8), COMPRESSED_FLAG)]).toEqual([1, 0, 0, 0, 2, 9, 8]);
  });
});
