// The inspector's static files under /inspect: content types, cache headers, no traversal, no
// token needed (its calls still need one), off by default.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";

// The shared test support of state-bridged lies outside this package's rootDir: it is imported
// by path, with the types this file uses.
interface WirePath {
  readonly name: string;
  readonly direct: boolean;
  createTransport(baseUrl: string, token?: string): Transport;
}
const { WIRE_PATHS } = (await import(
  fileURLToPath(new URL("../../../packages/state-bridged/test/support/wire-paths.ts", import.meta.url))
)) as { readonly WIRE_PATHS: readonly WirePath[] };

const SCRIPT = `console.log("inspector");\n${"// padding\n".repeat(200)}`;

/** A built inspector's shape: index.html and a hashed asset. */
function fakeInspector(): string {
  const directory = mkdtempSync(join(tmpdir(), "inspector-"));
  mkdirSync(join(directory, "assets"));
  writeFileSync(
    join(directory, "index.html"),
    '<!doctype html><script src="./assets/index-abc123.js"></script>',
  );
  writeFileSync(join(directory, "assets", "index-abc123.js"), SCRIPT);
  writeFileSync(join(directory, "assets", "style-def456.css"), "body { color: black }");
  return directory;
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A GET over HTTP/1.1 with the path sent exactly as written (no client-side normalization). */
function getHttp1(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${path}`, { path, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    request.on("error", reject);
    request.end();
  });
}

function getHttp2(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":method": "GET", ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let responseHeaders: http2.IncomingHttpHeaders = {};
    stream.on("response", (received) => {
      responseHeaders = received;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({
        status: Number(responseHeaders[":status"]),
        headers: responseHeaders,
        body: Buffer.concat(chunks),
      });
    });
    stream.on("error", reject);
  });
}

const GETS = [
  ["HTTP/1.1", getHttp1],
  ["HTTP/2", getHttp2],
] as const;

describe("the inspector's files", () => {
  for (const [version, get] of GETS) {
    it(`are served under /inspect with their content types and cache headers (${version})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: fakeInspector() });
      expect(server.server.inspectorUrl).toBe(`${server.server.url}/inspect/`);
      const index = await get(server.server.url, "/inspect/");
      expect(index.status).toBe(200);
      expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(index.headers["cache-control"]).toBe("no-cache");
      expect(index.headers["x-content-type-options"]).toBe("nosniff");
      expect(index.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(index.body.toString()).toContain("index-abc123.js");

      const script = await get(server.server.url, "/inspect/assets/index-abc123.js", {
        "accept-encoding": "gzip",
      });
      expect(script.status).toBe(200);
      expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(script.headers["content-encoding"]).toBe("gzip");
      expect(gunzipSync(script.body).toString()).toBe(SCRIPT);

      const style = await get(server.server.url, "/inspect/assets/style-def456.css");
      expect(style.headers["content-type"]).toBe("text/css; charset=utf-8");

      const revalidated = await get(server.server.url, "/inspect/", {
        "if-none-match": String(index.headers.etag),
      });
      expect(revalidated.status).toBe(304);

      const bare = await get(server.server.url, "/inspect");
      expect(bare.status).toBe(308);
      expect(bare.headers.location).toBe("/inspect/");
    });

    it(`never serve a file outside the built ones, however the path is written (${version})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: fakeInspector() });
      for (const path of [
        "/inspect/../package.json",
        "/inspect/%2e%2e/package.json",
        "/inspect/assets/../../cli.js",
        "/inspect/assets/..%2f..%2fcli.js",
        "/inspect//etc/passwd",
        "/inspect/assets/",
        "/inspect/missing.js",
      ]) {
        const answer = await get(server.server.url, path);
        expect([path, answer.status]).toEqual([path, 404]);
        expect(answer.body.toString()).toBe("not found\n");
      }
    });
  }

  it("need no token, while every RPC still does", async () => {
    server = await startTestServer({ inspector: true, inspectorDirectory: fakeInspector(), token: "secret" });
    expect((await getHttp1(server.server.url, "/inspect/")).status).toBe(200);
    expect((await getHttp2(server.server.url, "/inspect/")).status).toBe(200);
    const client = createClient(BridgeService, WIRE_PATHS[2]!.createTransport(server.server.url));
    const refused = await client.ping({}).catch((error: unknown) => ConnectError.from(error));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
  });

  it("are not served without the inspector (the default)", async () => {
    server = await startTestServer();
    expect(server.server.inspectorUrl).toBeUndefined();
    expect((await getHttp1(server.server.url, "/inspect/")).status).toBe(404);
    expect((await getHttp2(server.server.url, "/inspect/")).status).toBe(404);
  });

  it("refuse to start a server whose inspector is not built, saying so", async () => {
    await expect(
      startTestServer({ inspector: true, inspectorDirectory: mkdtempSync(join(tmpdir(), "empty-")) }),
    ).rejects.toThrow(/the inspector is not built/);
  });
});
