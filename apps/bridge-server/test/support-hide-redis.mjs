// Loaded with `node --import`: makes @statebridge/session-store-redis unresolvable, as on an
// install without it (the package is an optional peer of the bridge-server).
import { register } from "node:module";

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier === "@statebridge/session-store-redis") {
    const error = new Error("Cannot find package '@statebridge/session-store-redis' imported from " + context.parentURL);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
