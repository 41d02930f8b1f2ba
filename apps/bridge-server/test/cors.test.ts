// CORS for Connect and gRPC-Web from browsers (issue 12, §5): preflights from allowed origins
// are answered before the token check (browsers send none), other origins get no CORS header,
// actual responses carry connect's exposed headers, and a server without --cors-origin sends
// no CORS header at all.
import * as http from "node:http";
import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { cors as connectCors, createClient, type Transport } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine, UsageError } from "../src/cli-options.js";
import { startTestServer, type TestServer } from "./support.js";

interface WirePath {
  readonly name: string;
  readonly direct: boolean;
  createTransport(baseUrl: string, token?: string): Transport;
}
interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}
const supportPath = (file: string) =>
  fileURLToPath(new URL(`../../../packages/state-bridged/test/support/${file}`, import.meta.url));
const { WIRE_PATHS } = (await import(supportPath("wire-paths.ts"))) as {
  readonly WIRE_PATHS: readonly WirePath[];
};
const { startServerProcess } = (await import(supportPath("server-process.ts"))) as {
  startServerProcess(args: readonly string[], env?: Readonly<Record<string, string>>): Promise<ServerProcess>;
};

const ALLOWED = "https://app.example.com";
const OTHER = "https://evil.example";
const PING = "/statebridge.v1.BridgeService/Ping";

let test: TestServer | undefined;
afterEach(async () => {
  await test?.close();
  test = undefined;
});

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<string> {
  test = await startTestServer(options);
  return test.server.url;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP/1.1 request, as a browser would send it. */
function http1(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${PING}`, { method, headers, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        text += chunk;
      });
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
      );
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** One HTTP/2 request on a connection of its own. */
function h2(url: string, method: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":method": method, ":path": PING, ...headers });
    let text = "";
    let answer: Omit<Answer, "body"> = { status: 0, headers: {} };
    stream.setEncoding("utf8");
    stream.on("response", (responseHeaders) => {
      answer = { status: Number(responseHeaders[":status"]), headers: responseHeaders };
    });
    stream.on("data", (chunk: string) => {
      text += chunk;
    });
    stream.on("end", () => {
      session.close();
      resolve({ ...answer, body: text });
    });
    stream.on("error", reject);
    stream.end();
  });
}

const preflightHeaders = (origin: string) => ({
  origin,
  "access-control-request-method": "POST",
  "access-control-request-headers": "content-type,connect-protocol-version,authorization",
});

const corsHeaderNames = (headers: Answer["headers"]) =>
  Object.keys(headers).filter((name) => name.startsWith("access-control-"));

const listed = (value: string | string[] | undefined) =>
  String(value)
    .split(",")
    .map((name) => name.trim().toLowerCase());

describe("CORS preflight", () => {
  for (const [name, send] of [
    ["HTTP/1.1", http1],
    ["HTTP/2", h2],
  ] as const) {
    it(`is answered 204 for an allowed origin with connect's methods and headers, without a token (${name})`, async () => {
      const url = await start({ token: "secret", corsOrigins: [ALLOWED], corsMaxAgeSeconds: 600 });
      const answer = await send(url, "OPTIONS", preflightHeaders(ALLOWED));
      expect(answer.status).toBe(204);
      expect(answer.headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(listed(answer.headers["access-control-allow-methods"])).toEqual(["post", "get"]);
      const allowedHeaders = listed(answer.headers["access-control-allow-headers"]);
      for (const header of [...connectCors.allowedHeaders, "Authorization", "Traceparent", "Tracestate"]) {
        expect(allowedHeaders).toContain(header.toLowerCase());
      }
      expect(answer.headers["access-control-max-age"]).toBe("600");
      expect(answer.body).toBe("");
    });

    it(`is refused for another origin: no Access-Control-Allow-* header, so the browser sends nothing (${name})`, async () => {
      const url = await start({ token: "secret", corsOrigins: [ALLOWED] });
      const answer = await send(url, "OPTIONS", preflightHeaders(OTHER));
      expect(answer.status).toBe(403);
      expect(corsHeaderNames(answer.headers)).toEqual([]);
    });

    it(`gets no CORS header at all from a server without --cors-origin (${name})`, async () => {
      const url = await start();
      const answer = await send(url, "OPTIONS", preflightHeaders(ALLOWED));
      expect(answer.status).not.toBe(204);
      expect(corsHeaderNames(answer.headers)).toEqual([]);
    });
  }

  it("is refused for a method connect does not use", async () => {
    const url = await start({ corsOrigins: [ALLOWED] });
    const answer = await http1(url, "OPTIONS", {
      ...preflightHeaders(ALLOWED),
      "access-control-request-method": "PUT",
    });
    expect(answer.status).toBe(403);
    expect(corsHeaderNames(answer.headers)).toEqual([]);
  });

  it("still meets the host check without a token: a rebinding page's preflight is refused", async () => {
    const url = await start({ corsOrigins: ["*"] });
    const answer = await http1(url, "OPTIONS", { ...preflightHeaders(OTHER), host: "evil.example" });
    expect(answer.status).toBe(401);
    expect(corsHeaderNames(answer.headers)).toEqual([]);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "unauthenticated" });
  });

  it("warns at start when * is allowed and no token is required, and not when a token is", async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(_object: object, message?: string) {
        warnings.push(message ?? "");
      },
      error() {},
    };
    await start({ corsOrigins: ["*"], logger });
    expect(warnings).toEqual([
      "CORS allows any origin and no token is required: any web page a user opens can call this server",
    ]);
    await test?.close();
    warnings.length = 0;
    await start({ corsOrigins: ["*"], token: "secret", logger });
    expect(warnings).toEqual([]);
  });

  it("lets any origin through with *", async () => {
    const url = await start({ corsOrigins: ["*"] });
    const answer = await http1(url, "OPTIONS", preflightHeaders(OTHER));
    expect(answer.status).toBe(204);
    expect(answer.headers["access-control-allow-origin"]).toBe(OTHER);
  });
});

describe("CORS on actual responses", () => {
  const ping = (origin?: string, token?: string) =>
    fetch(`${test?.server.url}${PING}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        ...(origin === undefined ? {} : { origin }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ message: "hi" }),
    });

  it("a Connect call from an allowed origin gets Access-Control-Allow-Origin and connect's exposed headers", async () => {
    await start({ token: "secret", corsOrigins: [ALLOWED, "http://localhost:5173"] });
    const response = await ping(ALLOWED, "secret");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ message: "hi" });
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    const exposed = listed(response.headers.get("access-control-expose-headers") ?? "");
    for (const header of connectCors.exposedHeaders) expect(exposed).toContain(header.toLowerCase());
    expect(exposed).toContain("statebridge-error-code");
  });

  it("a call refused for its token still carries the CORS headers, so that the page reads unauthenticated", async () => {
    await start({ token: "secret", corsOrigins: [ALLOWED] });
    const response = await ping(ALLOWED);
    expect(response.status).toBe(401);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(listed(response.headers.get("access-control-expose-headers") ?? "")).toContain(
      "statebridge-error-code",
    );
    expect(await response.json()).toMatchObject({ code: "unauthenticated" });
  });

  it("a call from another origin or with no origin is answered without any CORS header", async () => {
    await start({ corsOrigins: [ALLOWED] });
    for (const origin of [OTHER, undefined]) {
      const response = await ping(origin);
      expect(response.status).toBe(200);
      expect([...response.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([]);
    }
  });

  for (const path of WIRE_PATHS.filter((candidate) => !candidate.name.startsWith("grpc "))) {
    it(`unary and streaming responses carry it on ${path.name}`, async () => {
      const url = await start({ corsOrigins: [ALLOWED] });
      const client = createClient(BridgeService, path.createTransport(url));
      const seen: (string | null)[] = [];
      const options = (origin: string) => ({
        headers: { origin },
        onHeader: (headers: Headers) => seen.push(headers.get("access-control-allow-origin")),
      });
      await client.ping({ message: "hi" }, options(ALLOWED));
      await client.ping({ message: "hi" }, options(OTHER));
      // A watch of a session that does not exist: headers, then the error that ends the stream.
      const watch = client.watchVariables({ sessionId: "missing", identifiers: ["x"] }, options(ALLOWED));
      await expect(
        (async () => {
          for await (const _ of watch) {
          }
        })(),
      ).rejects.toThrow();
      expect(seen).toEqual([ALLOWED, null, ALLOWED]);
    });
  }
});

describe("--cors-origin and --cors-max-age", () => {
  it("make the bridge-server command answer preflights from that origin, with a token required", async () => {
    const server = await startServerProcess(["--cors-origin", ALLOWED, "--cors-max-age", "60"], {
      STATEBRIDGE_TOKEN: "secret",
    });
    try {
      const answer = await h2(server.url, "OPTIONS", preflightHeaders(ALLOWED));
      expect(answer.status).toBe(204);
      expect(answer.headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(answer.headers["access-control-max-age"]).toBe("60");
      expect((await http1(server.url, "OPTIONS", preflightHeaders(OTHER))).status).toBe(403);
    } finally {
      await server.stop();
    }
  });

  it("are read, repeatable, into corsOrigins and corsMaxAgeSeconds; STATEBRIDGE_CORS_ORIGINS is comma-separated", () => {
    const parsed = parseCommandLine(
      [
        "--cors-origin",
        "https://App.Example.com/",
        "--cors-origin",
        "http://localhost:5173",
        "--cors-max-age",
        "60",
      ],
      {},
    );
    expect(parsed).toMatchObject({
      options: { corsOrigins: ["https://app.example.com", "http://localhost:5173"], corsMaxAgeSeconds: 60 },
    });
    expect(parseCommandLine([], { STATEBRIDGE_CORS_ORIGINS: "https://a.example, *" })).toMatchObject({
      options: { corsOrigins: ["https://a.example", "*"] },
    });
    expect(parseCommandLine([], {})).toEqual({ kind: "serve", options: {}, logLevel: "info" });
  });

  it("refuse an origin with a path, another scheme or no scheme, and a max age past a day", () => {
    for (const origin of ["https://app.example.com/page", "ftp://files.example", "app.example.com", "null"]) {
      expect(() => parseCommandLine(["--cors-origin", origin], {})).toThrow(UsageError);
    }
    expect(() => parseCommandLine(["--cors-max-age", "86401"], {})).toThrow(UsageError);
  });
});
