/**
 * What the server logs through: pino's logger fits it as is. Every call takes a structured
 * object first and a message second.
 */
export interface BridgeServerLogger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  /** Whether `level` is written (pino's): the access log is skipped when `debug` is not. */
  isLevelEnabled?(level: string): boolean;
}

/** A logger that writes nothing: the default of an embedded server. */
export const silentLogger: BridgeServerLogger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
  isLevelEnabled: () => false,
});
