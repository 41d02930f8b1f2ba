export { createLocalState } from "./local-state.js";
export type { LocalStateOptions } from "./local-state-options.js";
