export type { EnvelopeReader, EnvelopeReaderHandlers, EnvelopeReaderOptions } from "./envelope.js";
export {
  COMPRESSED_FLAG,
  createEnvelopeReader,
  ENVELOPE_HEADER_BYTES,
  encodeEnvelope,
  MAX_ENVELOPE_LENGTH,
} from "./envelope.js";
