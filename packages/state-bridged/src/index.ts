export type { StreamWatchOptions, WatchStatus } from "@statebridge/stream-consumer";
export type { BridgedStateOptions, BridgedStateProvider } from "./bridged-state.js";
export { BRIDGED_STATE_DEFAULTS, createBridgedState } from "./bridged-state.js";
export type { RetryOptions } from "./call-policy.js";
export type { TranslationContext } from "./error-translation.js";
export { stateErrorOf } from "./error-translation.js";
export type { BridgedTlsOptions } from "./tls-options.js";
export { propagateTraceContext } from "./transport.js";
export type { BridgedWatchOptions } from "./watch.js";
