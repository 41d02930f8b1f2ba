export { createContext } from "./context.js";
export type {
  Backend,
  BackendSwitchEvent,
  BackendSwitchFailedEvent,
  BridgeConnection,
  Context,
  ContextEvents,
  ContextOptions,
  ProgramRegistration,
  SwitchStep,
} from "./context.js";
export { LOCAL_RUNTIMES, bridgeReason } from "./program-spec.js";
export type { ProgramSpec } from "./program-spec.js";
