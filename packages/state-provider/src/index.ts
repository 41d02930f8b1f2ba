export type { ConstraintPattern } from "./constraint-pattern.js";
export { compilePattern, MAX_PATTERN_LENGTH, MAX_PATTERN_PROGRAM_SIZE } from "./constraint-pattern.js";
export type { NormalizedConstraints } from "./constraints.js";
export { validateConstraints } from "./constraints.js";
export type { StateErrorCode, StateErrorFailure, StateErrorOptions } from "./errors.js";
export { isStateError, isStateErrorCode, STATE_ERROR_CODES, StateError } from "./errors.js";
export type {
  DecodedExportedVariable,
  ExportDocument,
  ExportedValue,
  ExportedVariable,
  ParsedExport,
} from "./export-format.js";
export {
  createExport,
  decodeValue,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  encodeValue,
  parseExport,
  parseExportedVariables,
} from "./export-format.js";
export { freezeVariable, nextVariableVersion } from "./frozen-variable.js";
export { compileGlob, MAX_GLOB_LENGTH } from "./glob.js";
export {
  assertIdentifierLength,
  assertVariableName,
  ID_PATTERN,
  isIdShaped,
  MAX_IDENTIFIER_LENGTH,
  MAX_NAME_LENGTH,
} from "./identifiers.js";
export { createSessionId, createVariableId } from "./ids.js";
export { describe } from "./messages.js";
export { mergeMetadata, normalizeMetadata } from "./metadata.js";
export { assertExpectedVersion, assertFromRevision, entriesOf } from "./option-checks.js";
export { packFloat64, unpackFloat64 } from "./packed.js";
export type {
  Capabilities,
  GetOptions,
  RegisterOptions,
  SetOptions,
  StateProvider,
  UpdateManyOptions,
  UpdateManyResult,
  Updates,
} from "./provider.js";
export type {
  BackendSwitchMessage,
  OperationEvent,
  OperationName,
  OperationStart,
  ProviderKind,
} from "./telemetry.js";
export {
  BACKEND_SWITCH_CHANNEL,
  backendSwitchChannel,
  OPERATION_CHANNEL,
  operationChannel,
  TRACED_OPERATIONS,
  traceOperations,
} from "./telemetry.js";
export {
  assertVariableType,
  isTensorValue,
  isVariableType,
  MAX_ARRAY_LENGTH,
  MAX_TENSOR_RANK,
  normalizeValue,
  valuesEqual,
} from "./type-system.js";
export { codePointLength, isWellFormed } from "./unicode.js";
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
export { VARIABLE_TYPES } from "./variable.js";
export type {
  WatchEvent,
  WatchEventType,
  Watcher,
  WatchHandle,
  WatchInfo,
  WatchOptions,
} from "./watch.js";
export type { WireValueKind } from "./wire-value.js";
export { decodeWireValue, encodeWireValue, fromWireValue, toWireValue } from "./wire-value.js";
