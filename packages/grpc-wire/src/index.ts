export type { BackoffOptions } from "./backoff.js";
export { backoffDelay, sleep } from "./backoff.js";
export type { DeadlineWatchdog, WatchedDeadline } from "./deadline-watchdog.js";
export { createDeadlineWatchdog } from "./deadline-watchdog.js";
export type { EnvelopeReader, EnvelopeReaderHandlers, EnvelopeReaderOptions } from "./envelope.js";
export {
  COMPRESSED_FLAG,
  createEnvelopeReader,
  ENVELOPE_HEADER_BYTES,
  encodeEnvelope,
  MAX_ENVELOPE_LENGTH,
} from "./envelope.js";
export { ERROR_CODE_TRAILER, GRPC_STATUS_OF, stateCodeOfGrpcStatus } from "./grpc-codes.js";
export { ProtobufReader, readMessage, UNUSUAL_ENCODING } from "./protobuf-reading.js";
export {
  allocateEnvelope,
  stringFieldSize,
  utf8Length,
  varintSize,
  writeStringField,
  writeVarint,
} from "./protobuf-writing.js";
export { isReceiveLimitError, receiveLimitError } from "./receive-limit.js";
export { RESET_CODES, resetError } from "./reset-codes.js";
export type { ResponseHead } from "./status.js";
export {
  GRPC_CONTENT_TYPES,
  readResponseHead,
  SUCCESS_TRAILERS,
  toWebHeaders,
  trailerError,
  trailersOf,
} from "./status.js";
export type { GrpcTimeout } from "./timeout.js";
export { formatGrpcTimeout, MAX_TIMER_MS, parseGrpcTimeout } from "./timeout.js";
export { readBoolean, readValue } from "./value-reading.js";
export type { ValueFields, ValueKindFields } from "./value-writing.js";
export { int64Size, valueMessageSize, writeInt64, writeValue } from "./value-writing.js";
