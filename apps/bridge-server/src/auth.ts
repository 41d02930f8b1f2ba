import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { Health } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";

const BEARER = /^bearer\s+(.+)$/i;

/**
 * Requires `authorization: Bearer <token>` on every call except the gRPC health service, so
 * that load balancers and orchestrators can probe the server without the secret. A missing or
 * wrong token fails with `unauthenticated`.
 *
 * Tokens are compared as SHA-256 digests with `timingSafeEqual`: the comparison takes the same
 * time whatever the presented token, and its length leaks nothing either.
 */
export function createAuthInterceptor(token: string, logger: BridgeServerLogger): Interceptor {
  const expected = digest(token);
  return (next) => (request) => {
    if (request.service.typeName === Health.typeName) return next(request);
    const header = request.header.get("authorization");
    const presented = header === null ? undefined : BEARER.exec(header.trim())?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      logger.debug(
        { procedure: request.method.name, reason: presented === undefined ? "missing" : "wrong" },
        "call refused: bearer token missing or wrong",
      );
      throw toConnectError(
        new StateError(
          "unauthenticated",
          presented === undefined
            ? "this server requires an authorization header: Bearer <token>"
            : "the bearer token is not the one this server expects",
        ),
        logger,
      );
    }
    return next(request);
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
