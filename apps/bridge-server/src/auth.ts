import { createHash, timingSafeEqual } from "node:crypto";
import type { ConnectError, Interceptor } from "@connectrpc/connect";
import { Health } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { toConnectError } from "./error-translation.js";
import type { BridgeServerLogger } from "./logger.js";

const BEARER = /^bearer\s+(.+)$/i;

/**
 * Checks the `authorization` header of one call.
 * @param authorization - the header's value; `null` or `undefined` when absent.
 * @param procedure - the method's name, for the log line of a refusal.
 * @returns `undefined` when the call may proceed, else the `unauthenticated` error to answer with.
 */
export type TokenCheck = (
  authorization: string | null | undefined,
  procedure: string,
) => ConnectError | undefined;

/**
 * Creates the check of `authorization: Bearer <token>` that every call but the health
 * service must pass, shared by the connect interceptor ({@link createAuthInterceptor}) and the
 * direct gRPC path, so that both refuse alike.
 *
 * Tokens are compared as SHA-256 digests with `timingSafeEqual`: the comparison takes the same
 * time whatever the presented token, and its length leaks nothing either.
 */
export function createTokenCheck(token: string, logger: BridgeServerLogger): TokenCheck {
  const expected = digest(token);
  return (authorization, procedure) => {
    const presented =
      authorization === null || authorization === undefined
        ? undefined
        : BEARER.exec(authorization.trim())?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return undefined;
    logger.debug(
      { procedure, reason: presented === undefined ? "missing" : "wrong" },
      "call refused: bearer token missing or wrong",
    );
    return toConnectError(
      new StateError(
        "unauthenticated",
        presented === undefined
          ? "this server requires an authorization header: Bearer <token>"
          : "the bearer token is not the one this server expects",
      ),
      logger,
    );
  };
}

/**
 * Requires `authorization: Bearer <token>` on every call except the gRPC health service, so
 * that load balancers and orchestrators can probe the server without the secret. A missing or
 * wrong token fails with `unauthenticated`.
 */
export function createAuthInterceptor(check: TokenCheck): Interceptor {
  return (next) => (request) => {
    if (request.service.typeName === Health.typeName) return next(request);
    const refusal = check(request.header.get("authorization"), request.method.name);
    if (refusal !== undefined) throw refusal;
    return next(request);
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
