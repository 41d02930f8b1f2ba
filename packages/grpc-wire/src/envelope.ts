/** Bytes of a gRPC envelope header: one flags byte, then the message length (big-endian uint32). */
export const ENVELOPE_HEADER_BYTES = 5;
/** The flag of an envelope whose message is compressed with the call's `grpc-encoding`. */
export const COMPRESSED_FLAG = 0b0000_0001;
/** The largest length an envelope header can declare. */
export const MAX_ENVELOPE_LENGTH = 0xffff_ffff;

/** What an {@link EnvelopeReader} reports. */
export interface EnvelopeReaderHandlers {
  /**
   * One complete envelope, in order, called synchronously from `push`. `message` is a
   * `Uint8Array` (never a `Buffer`) that may be a view of the pushed chunk: decode it, or copy
   * it, before the chunk's memory can be reused.
   */
  onEnvelope(message: Uint8Array, compressed: boolean): void;
  /**
   * An envelope header declared `length` bytes, more than `maxMessageBytes`: called once,
   * before any byte of that message is buffered. The reader has stopped.
   */
  onOversize(length: number, maxMessageBytes: number): void;
}

/** Options of {@link createEnvelopeReader}. */
export interface EnvelopeReaderOptions {
  /** The largest message accepted, in bytes. Default: any (2^32 − 1). */
  readonly maxMessageBytes?: number;
}

/** Cuts gRPC envelopes from a byte stream as it arrives. */
export interface EnvelopeReader {
  /** Reads one chunk: every envelope it completes is handed to `onEnvelope`. Ignored once stopped. */
  push(chunk: Uint8Array): void;
  /** Reads nothing more: later chunks are dropped without being looked at. Idempotent. */
  stop(): void;
  /** After {@link EnvelopeReader.stop}, or once an oversize envelope was refused. */
  readonly stopped: boolean;
  /** Complete envelopes read so far. */
  readonly messages: number;
  /** Bytes pushed so far (counted up to the point the reader stopped). */
  readonly receivedBytes: number;
  /** Whether the bytes read so far end inside an envelope (its header or its message). */
  readonly incomplete: boolean;
}

/**
 * Creates an {@link EnvelopeReader}. Linear in the bytes received: a message inside one chunk
 * is handed over as a view of it, a message spread over chunks is copied once into a buffer
 * of its declared length — allocated only after that length was checked against
 * `maxMessageBytes`, so an oversize message is refused from its 5-byte header, before its
 * body arrives.
 */
export function createEnvelopeReader(
  handlers: EnvelopeReaderHandlers,
  options: EnvelopeReaderOptions = {},
): EnvelopeReader {
  return new StreamingEnvelopeReader(handlers, options.maxMessageBytes ?? MAX_ENVELOPE_LENGTH);
}

/**
 * The reader as a class: one is created per call on the hot paths, and a class instance (its
 * getters on the prototype) costs a tenth of an object literal with accessors.
 */
class StreamingEnvelopeReader implements EnvelopeReader {
  private readonly handlers: EnvelopeReaderHandlers;
  private readonly maxMessageBytes: number;
  /** A header split across chunks, gathered here; allocated only when one is. */
  private header: Uint8Array | undefined = undefined;
  private headerBytes = 0;
  private flags = 0;
  /** The message being gathered across chunks, and how much of it arrived. */
  private message: Uint8Array | undefined = undefined;
  private messageBytes = 0;
  private messageCount = 0;
  private received = 0;
  private isStopped = false;

  constructor(handlers: EnvelopeReaderHandlers, maxMessageBytes: number) {
    this.handlers = handlers;
    this.maxMessageBytes = maxMessageBytes;
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  get messages(): number {
    return this.messageCount;
  }

  get receivedBytes(): number {
    return this.received;
  }

  get incomplete(): boolean {
    return this.headerBytes > 0 || this.message !== undefined;
  }

  stop(): void {
    this.isStopped = true;
    this.message = undefined;
  }

  /** An arrow property, so that `stream.on("data", reader.push)` needs no binding. */
  readonly push = (chunk: Uint8Array): void => {
    if (this.isStopped) return;
    this.received += chunk.byteLength;
    const end = chunk.byteLength;
    let offset = 0;
    while (offset < end && !this.isStopped) {
      const message = this.message;
      if (message !== undefined) {
        const taken = Math.min(message.byteLength - this.messageBytes, end - offset);
        message.set(chunk.subarray(offset, offset + taken), this.messageBytes);
        this.messageBytes += taken;
        offset += taken;
        if (this.messageBytes === message.byteLength) {
          this.message = undefined;
          this.deliver(message);
        }
        continue;
      }
      let length: number;
      if (this.headerBytes === 0 && end - offset >= ENVELOPE_HEADER_BYTES) {
        this.flags = chunk[offset] as number;
        length = readUint32(chunk, offset + 1);
        offset += ENVELOPE_HEADER_BYTES;
      } else {
        this.header ??= new Uint8Array(ENVELOPE_HEADER_BYTES);
        this.header[this.headerBytes++] = chunk[offset++] as number;
        if (this.headerBytes < ENVELOPE_HEADER_BYTES) continue;
        this.headerBytes = 0;
        this.flags = this.header[0] as number;
        length = readUint32(this.header, 1);
      }
      if (length > this.maxMessageBytes) {
        this.isStopped = true;
        this.handlers.onOversize(length, this.maxMessageBytes);
        return;
      }
      if (end - offset >= length) {
        const start = offset;
        offset += length;
        this.deliver(new Uint8Array(chunk.buffer, chunk.byteOffset + start, length));
      } else {
        this.message = new Uint8Array(length);
        this.messageBytes = 0;
      }
    }
  };

  private deliver(bytes: Uint8Array): void {
    this.messageCount++;
    this.handlers.onEnvelope(bytes, (this.flags & COMPRESSED_FLAG) === COMPRESSED_FLAG);
  }
}

/** Frames one message: the 5-byte header (`flags`, length) followed by the message. */
export function encodeEnvelope(message: Uint8Array, flags = 0): Buffer {
  const framed = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + message.byteLength);
  framed[0] = flags;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, ENVELOPE_HEADER_BYTES);
  return framed;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset] as number) * 0x100_0000 +
    (((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number))
  );
}
