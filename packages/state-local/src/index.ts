export type { LocalStateOptions } from "./local-state.js";
export { createLocalState } from "./local-state.js";
