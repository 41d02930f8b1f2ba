export type { ReconnectOptions, ResolvedReconnectOptions } from "./backoff.js";
export { DEFAULT_RECONNECT, reconnectDelay, resolveReconnectOptions } from "./backoff.js";
export type { ConnectErrorContext } from "./connect-errors.js";
export {
  isRetryableWatchError,
  stateErrorFromConnectError,
  stateErrorFromErrorDetail,
} from "./connect-errors.js";
export { createFallbackWatchSource } from "./fallback-watch-source.js";
export type { GrpcConnection, GrpcStream, GrpcStreamHandlers } from "./grpc-stream.js";
export { openGrpcStream } from "./grpc-stream.js";
export { createGrpcWatchStreamOpener, createGrpcWatchVariablesSource } from "./grpc-watch-sources.js";
export { settleVerifyOnClose } from "./session-verify.js";
export type { StreamConsumer, StreamConsumerOptions } from "./stream-consumer.js";
export { createStreamConsumer } from "./stream-consumer.js";
export type { StreamWatchHandle, StreamWatchInfo } from "./stream-watch.js";
export type { DecodedWatchEvents } from "./watch-events.js";
export { decodeWatchEvent, decodeWatchEvents } from "./watch-events.js";
export type { WatchListener, WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";
export type { StreamWatchOptions, WatchStatus } from "./watch-status.js";
export type { WatchStreamCall, WatchStreamOpener, WatchStreamSourceOptions } from "./watch-stream-source.js";
export { createWatchStreamSource } from "./watch-stream-source.js";
export type { WatchVariablesSourceOptions } from "./watch-variables-source.js";
export { createWatchVariablesSource } from "./watch-variables-source.js";
