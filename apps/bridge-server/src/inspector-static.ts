import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Where the inspector's pages are served. */
export const INSPECTOR_PATH = "/inspect";

/** Where the bridge-server's build puts the inspector's files (apps/inspector's dist). */
export function defaultInspectorDirectory(): string {
  return fileURLToPath(new URL("./inspector/", import.meta.url));
}

/** The inspector's static files, held in memory, served on both HTTP versions. */
export interface InspectorFiles {
  /** Whether a request is one for the inspector's files: a GET or HEAD under {@link INSPECTOR_PATH}. */
  matches(method: string | undefined, path: string | undefined): boolean;
  /** Serves a GET or HEAD under {@link INSPECTOR_PATH}; false leaves the stream to the RPCs. */
  serveHttp2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** The same for an HTTP/1.1 request. */
  serveHttp1(request: http.IncomingMessage, response: http.ServerResponse): boolean;
}

interface StaticFile {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly etag: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
  [".json", "application/json"],
  [".svg", "image/svg+xml"],
  [".png", "image/png"],
  [".ico", "image/x-icon"],
  [".txt", "text/plain; charset=utf-8"],
]);

/** Sent with every answer: the page talks to its own origin only and is never framed. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * Reads the built inspector (`index.html` and `assets/`) into memory once, so that a request
 * names an entry of a fixed table and never a file path: `..`, encoded or not, finds nothing.
 * Hashed assets are cached for a year (immutable); `index.html` is revalidated (`no-cache`,
 * ETag). Text is served gzipped to clients that accept it.
 * @throws if the directory holds no `index.html` (the inspector was not built).
 */
export function loadInspectorFiles(directory: string): InspectorFiles {
  if (!existsSync(join(directory, "index.html"))) {
    throw new Error(
      `the inspector is not built: ${join(directory, "index.html")} is missing (run the build, which builds apps/inspector first)`,
    );
  }
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const name = relative(directory, path).split(sep).join("/");
    const body = readFileSync(path);
    const contentType = CONTENT_TYPES.get(extname(name)) ?? "application/octet-stream";
    const compressible = /^(text\/|application\/json|image\/svg)/.test(contentType) && body.byteLength > 1024;
    files.set(name, {
      body,
      gzipped: compressible ? gzipSync(body, { level: 9 }) : undefined,
      contentType,
      cacheControl: name.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
    });
  }

  const answer = (rawPath: string, acceptEncoding: string, ifNoneMatch: string | undefined): Answer => {
    const query = rawPath.indexOf("?");
    const path = query === -1 ? rawPath : rawPath.slice(0, query);
    if (path === INSPECTOR_PATH) {
      const location = `${INSPECTOR_PATH}/${query === -1 ? "" : rawPath.slice(query)}`;
      return { status: 308, headers: { ...SECURITY_HEADERS, location }, body: undefined };
    }
    const name = path.slice(INSPECTOR_PATH.length + 1);
    const file = files.get(name === "" ? "index.html" : name);
    if (file === undefined) {
      return {
        status: 404,
        headers: {
          ...SECURITY_HEADERS,
          "content-type": "text/plain; charset=utf-8",
          "cache-control": "no-store",
        },
        body: Buffer.from("not found\n"),
      };
    }
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": file.contentType,
      "cache-control": file.cacheControl,
      etag: file.etag,
      vary: "accept-encoding",
    };
    if (ifNoneMatch?.split(",").some((tag) => tag.trim() === file.etag)) {
      return { status: 304, headers, body: undefined };
    }
    if (file.gzipped !== undefined && /\bgzip\b/.test(acceptEncoding)) {
      return { status: 200, headers: { ...headers, "content-encoding": "gzip" }, body: file.gzipped };
    }
    return { status: 200, headers, body: file.body };
  };

  const matches = (method: string | undefined, path: string | undefined): path is string =>
    (method === "GET" || method === "HEAD") &&
    path !== undefined &&
    (path === INSPECTOR_PATH ||
      path.startsWith(`${INSPECTOR_PATH}/`) ||
      path.startsWith(`${INSPECTOR_PATH}?`));

  return {
    matches,
    serveHttp2(stream, headers) {
      const method = headers[":method"];
      const path = headers[":path"];
      if (!matches(method, path)) return false;
      const {
        status,
        headers: responseHeaders,
        body,
      } = answer(
        path,
        String(headers["accept-encoding"] ?? ""),
        typeof headers["if-none-match"] === "string" ? headers["if-none-match"] : undefined,
      );
      stream.on("error", () => {});
      const withBody = body !== undefined && method !== "HEAD";
      stream.respond(
        {
          ":status": status,
          ...responseHeaders,
          ...(body === undefined ? {} : { "content-length": String(body.byteLength) }),
        },
        { endStream: !withBody },
      );
      if (withBody) stream.end(body);
      // A GET has no body: whatever a client still sends is dropped.
      stream.resume();
      return true;
    },
    serveHttp1(request, response) {
      if (!matches(request.method, request.url)) return false;
      const { status, headers, body } = answer(
        request.url,
        String(request.headers["accept-encoding"] ?? ""),
        request.headers["if-none-match"],
      );
      response.writeHead(status, {
        ...headers,
        ...(body === undefined ? {} : { "content-length": String(body.byteLength) }),
      });
      response.end(request.method === "HEAD" ? undefined : body);
      request.resume();
      return true;
    },
  };
}
