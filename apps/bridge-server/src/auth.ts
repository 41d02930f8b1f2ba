import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { ConnectError } from "@connectrpc/connect";
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
 * service must pass. The call gate applies it from the headers, before either wire path
 * sees the request or reads its body.
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
 * Checks the `Host` (HTTP/1.1) or `:authority` (HTTP/2) of one request.
 * @param authority - the header's value, `host[:port]`; `undefined` when absent.
 * @param procedure - the method's name, for the log line of a refusal.
 * @returns `undefined` when the request may proceed, else the `unauthenticated` error to answer with.
 */
export type HostCheck = (authority: string | undefined, procedure: string) => ConnectError | undefined;

/** The names every server answers to: loopback names (any port). IP addresses are always allowed. */
export const LOOPBACK_NAMES = Object.freeze(["localhost"]);

/**
 * Creates the defence against DNS rebinding for a server without a token: a web page from
 * `http://attacker.example` whose name the attacker re-points at 127.0.0.1 reaches the server
 * with `Host: attacker.example`, which is refused. Allowed are IP addresses (a page cannot be
 * served from the server's own address), `localhost` and its subdomains, the host the server
 * listens on, and `allowedHosts`: exact names, `.example.com` for a domain and its subdomains,
 * or `*` for any. A request without the header (not from a browser) is allowed.
 */
export function createHostCheck(
  allowedHosts: readonly string[],
  listenHost: string,
  logger: BridgeServerLogger,
): HostCheck {
  const exact = new Set<string>([...LOOPBACK_NAMES, hostnameOf(listenHost)]);
  const suffixes = [".localhost"];
  let anyHost = false;
  for (const entry of allowedHosts) {
    const name = hostnameOf(entry.trim().toLowerCase());
    if (name === "*") anyHost = true;
    else if (name.startsWith(".")) {
      suffixes.push(name);
      exact.add(name.slice(1));
    } else exact.add(name);
  }
  return (authority, procedure) => {
    if (anyHost || authority === undefined) return undefined;
    // A fully qualified name may end in a dot ("localhost.").
    const name = hostnameOf(authority.toLowerCase()).replace(/\.$/, "");
    if (exact.has(name) || isIP(name) !== 0 || suffixes.some((suffix) => name.endsWith(suffix))) {
      return undefined;
    }
    const shown = truncateForMessage(name);
    logger.debug({ procedure, host: shown }, "call refused: host not allowed");
    return toConnectError(
      new StateError(
        "unauthenticated",
        `requests for host "${shown}" are refused: allow it with --allowed-host, or require a --token`,
      ),
      logger,
    );
  };
}

/** The host name of `host[:port]` or `[v6]:port`, without brackets or port. */
function hostnameOf(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end === -1 ? authority : authority.slice(1, end);
  }
  const colon = authority.indexOf(":");
  // More than one colon: a bare IPv6 address, as --host takes it.
  if (colon === -1 || authority.indexOf(":", colon + 1) !== -1) return authority;
  return authority.slice(0, colon);
}

function truncateForMessage(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
