export type { BridgeServer, BridgeServerOptions } from "./bridge-server.js";
export { BRIDGE_SERVER_DEFAULTS, createBridgeServer } from "./bridge-server.js";
export type { BridgeServerLogger } from "./logger.js";
export type { BridgeServerTlsOptions } from "./tls.js";
