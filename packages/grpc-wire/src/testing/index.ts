export {
  arbitraryInt64,
  arbitraryText,
  arbitraryValueKind,
  arbitraryVariable,
  ENCODING_RUNS,
  ENCODING_SEED,
} from "./arbitraries.js";
export type { Mutation } from "./mutations.js";
export { arbitraryMutation, mutate } from "./mutations.js";
export { envelopeOf, expectAgreement } from "./references.js";
export type { GeneratedSetVariable, GeneratedSetVariables } from "./write-requests.js";
export { arbitrarySetVariable, arbitrarySetVariables, readByHand } from "./write-requests.js";
