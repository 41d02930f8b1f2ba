import type { IncomingHttpHeaders } from "node:http";
import { cors as connectCors } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import { StateError } from "@statebridge/state-provider";
import type { NodeRequestHandler } from "./request-handler.js";

/** Defaults of {@link CorsOptions}. */
export const CORS_DEFAULTS = Object.freeze({
  /** How long a browser may cache a preflight answer, in seconds: Chromium's own ceiling. */
  maxAgeSeconds: 7_200,
});

/** Options of {@link createCors}. */
export interface CorsOptions {
  /** Origins allowed to call (`https://app.example.com`), or `*` for any; see {@link parseCorsOrigin}. */
  readonly origins: readonly string[];
  /** How long a browser may cache a preflight answer, in seconds. */
  readonly maxAgeSeconds: number;
}

/** The CORS policy of a server that allows some origins. */
export interface Cors {
  /**
   * The headers an actual response to a request from `origin` carries: the origin allowed and
   * the headers exposed. `undefined` for a request without an allowed origin, which gets none.
   */
  responseHeaders(origin: string | undefined): Readonly<Record<string, string>> | undefined;
  /** The answer to a preflight request: status and headers. */
  preflight(headers: IncomingHttpHeaders): {
    readonly status: number;
    readonly headers: Record<string, string>;
  };
}

/**
 * Methods a browser may call with: connect's list (POST; GET for Connect's idempotent unary
 * calls).
 */
const ALLOWED_METHODS: ReadonlySet<string> = new Set(connectCors.allowedMethods);
/**
 * Headers a browser may send: connect's list, `Authorization` for the bearer token, and the W3C
 * trace context that the server accepts from clients.
 */
const ALLOWED_HEADERS = [...connectCors.allowedHeaders, "Authorization", "Traceparent", "Tracestate"].join(
  ", ",
);
/**
 * Headers a script may read: connect's list (the gRPC-Web status among them), and the exact
 * statebridge error code that a Connect unary error carries as a header.
 */
const EXPOSED_HEADERS = [...connectCors.exposedHeaders, ERROR_CODE_TRAILER].join(", ");
/** The preflight answer depends on these request headers. */
const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method";

/**
 * Reads one `--cors-origin`: `*`, or an origin as browsers send it in `Origin` — `http` or
 * `https`, a host, an optional port, no path (a trailing `/` is dropped).
 * @returns the origin in its serialized form (lower case, default port omitted).
 * @throws StateError `invalid_value` naming what is wrong with `value`.
 */
export function parseCorsOrigin(value: string): string {
  const text = value.trim();
  if (text === "*") return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username !== "" ||
    url.password !== "" ||
    url.pathname !== "/" ||
    url.search !== "" ||
    url.hash !== "" ||
    text.endsWith("?") ||
    text.endsWith("#")
  ) {
    throw new StateError(
      "invalid_value",
      `a CORS origin is "*" or scheme://host[:port] with scheme http or https and no path, got ${JSON.stringify(value)}`,
    );
  }
  return url.origin;
}

/**
 * Creates the CORS policy for browsers calling from `options.origins` with Connect or gRPC-Web,
 * on connect's published header lists. Nothing but the allowed origin is echoed back.
 * @throws StateError `invalid_value` for an origin {@link parseCorsOrigin} refuses.
 */
export function createCors(options: CorsOptions): Cors {
  const origins = new Set(options.origins.map(parseCorsOrigin));
  const anyOrigin = origins.has("*");
  const maxAge = String(options.maxAgeSeconds);
  const allowed = (origin: string | undefined): origin is string =>
    origin !== undefined && (anyOrigin || origins.has(origin));
  return {
    responseHeaders(origin) {
      if (!allowed(origin)) return undefined;
      return {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": EXPOSED_HEADERS,
        vary: "Origin",
      };
    },
    preflight(headers) {
      const origin = typeof headers.origin === "string" ? headers.origin : undefined;
      const method = headers["access-control-request-method"];
      // Refused: no Access-Control-Allow-* header, so the browser does not send the call.
      if (!allowed(origin) || typeof method !== "string" || !ALLOWED_METHODS.has(method)) {
        return { status: 403, headers: { vary: PREFLIGHT_VARY, "content-length": "0" } };
      }
      return {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": connectCors.allowedMethods.join(", "),
          "access-control-allow-headers": ALLOWED_HEADERS,
          "access-control-max-age": maxAge,
          vary: PREFLIGHT_VARY,
        },
      };
    },
  };
}

/** Whether a request is a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. */
export function isPreflight(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return (
    method === "OPTIONS" &&
    headers.origin !== undefined &&
    headers["access-control-request-method"] !== undefined
  );
}

/**
 * Puts `cors` in front of `handler`: preflights are answered here and go no further; every
 * other request from an allowed origin gets the CORS headers of an actual response (Connect
 * unary and streaming, gRPC-Web) before `handler` writes it.
 */
export function withCors(handler: NodeRequestHandler, cors: Cors): NodeRequestHandler {
  return (request, response) => {
    if (isPreflight(request.method, request.headers)) {
      const answer = cors.preflight(request.headers);
      response.writeHead(answer.status, answer.headers);
      response.end();
      return;
    }
    const origin = request.headers.origin;
    const headers = cors.responseHeaders(typeof origin === "string" ? origin : undefined);
    if (headers !== undefined) {
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    }
    handler(request, response);
  };
}
