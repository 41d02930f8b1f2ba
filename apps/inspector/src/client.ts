import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BridgeService, ErrorDetailSchema } from "@statebridge/proto";

/** A BridgeService client over the Connect protocol, same-origin with the page. */
export type BridgeClient = Client<typeof BridgeService>;

/** The statebridge code and message of a failed call, as the page shows them. */
export interface CallError {
  readonly code: string;
  readonly message: string;
}

const TOKEN_KEY = "statebridge-inspector-token";

/** The token of this tab: kept in sessionStorage (never in a URL), gone when the tab closes. */
export function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** Keeps the token for this tab, or forgets it when empty. */
export function storeToken(token: string): void {
  try {
    if (token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): the token lives in memory only.
  }
}

/**
 * Creates a client whose calls carry `authorization: Bearer <token>` when a token is given.
 * The page is served by the bridge-server itself, so the base URL is the page's origin.
 */
export function createBridgeClient(token: string): BridgeClient {
  const authorize: Interceptor = (next) => (request) => {
    if (token !== "") request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  const transport = createConnectTransport({
    baseUrl: location.origin,
    useBinaryFormat: true,
    interceptors: [authorize],
  });
  return createClient(BridgeService, transport);
}

/** Names of gRPC codes for errors that carry no statebridge code (the inspector off, a network failure). */
const CODE_NAMES: ReadonlyMap<Code, string> = new Map([
  [Code.Unimplemented, "unimplemented"],
  [Code.Unavailable, "unavailable"],
  [Code.Unauthenticated, "unauthenticated"],
  [Code.Canceled, "cancelled"],
  [Code.DeadlineExceeded, "deadline_exceeded"],
]);

/**
 * The statebridge code of a failed call: from the ErrorDetail in the status details, else the
 * `statebridge-error-code` header or trailer, else the gRPC code's name.
 */
export function callErrorOf(error: unknown): CallError {
  const connectError = ConnectError.from(error);
  const detail = connectError.findDetails(ErrorDetailSchema)[0];
  const code =
    detail?.code ||
    connectError.metadata.get("statebridge-error-code") ||
    CODE_NAMES.get(connectError.code) ||
    Code[connectError.code]?.toLowerCase() ||
    "unknown";
  const message = detail?.message || connectError.rawMessage || String(error);
  return { code, message: message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message };
}
