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
} from "./context-types.js";
export type { ProgramSpec } from "./program-spec.js";
export { bridgeReason, LOCAL_RUNTIMES } from "./program-spec.js";
