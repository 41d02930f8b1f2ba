export { STATE_ERROR_CODES, StateError, isStateError, isStateErrorCode } from "./errors.js";
export type { StateErrorCode, StateErrorFailure, StateErrorOptions } from "./errors.js";
export { VARIABLE_TYPES } from "./variable.js";
export type {
  Constraints,
  JsonValue,
  Metadata,
  RegisteredVariable,
  Tensor,
  Variable,
  VariableType,
  VariableValue,
} from "./variable.js";
export type {
  WatchEvent,
  WatchEventType,
  WatchHandle,
  WatchInfo,
  WatchOptions,
  Watcher,
} from "./watch.js";
export type {
  Capabilities,
  RegisterOptions,
  SetOptions,
  StateProvider,
  UpdateManyOptions,
  UpdateManyResult,
  Updates,
} from "./provider.js";
export {
  ID_PATTERN,
  MAX_ARRAY_LENGTH,
  MAX_NAME_LENGTH,
  MAX_PATTERN_LENGTH,
  assertExpectedVersion,
  assertVariableName,
  assertVariableType,
  codePointLength,
  compilePattern,
  describe,
  isIdShaped,
  isTensorValue,
  isVariableType,
  mergeMetadata,
  normalizeMetadata,
  normalizeValue,
  validateConstraints,
  valuesEqual,
} from "./type-system.js";
export type { NormalizedConstraints } from "./type-system.js";
export { compileGlob } from "./glob.js";
export { createSessionId, createVariableId } from "./ids.js";
export { packFloat64, unpackFloat64 } from "./packed.js";
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  createExport,
  decodeValue,
  encodeValue,
  parseExport,
} from "./export-format.js";
export type {
  ExportDocument,
  ExportedValue,
  ExportedVariable,
  ParsedExport,
} from "./export-format.js";
export { ERROR_CODE_TRAILER, GRPC_STATUS_OF, stateCodeOfGrpcStatus } from "./grpc-codes.js";
export { decodeWireValue, encodeWireValue, fromWireValue, toWireValue } from "./wire-value.js";
export type { WireValueKind } from "./wire-value.js";
