// ListSessions, the inspector's RPC, on every wire path: pages in id order, a prefix, the token,
// and not_found when the inspector is off.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { BridgeService, ErrorDetailSchema } from "@statebridge/proto";
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

/** The smallest built inspector: these tests are about the RPC, not the page. */
function builtInspector(): string {
  const directory = mkdtempSync(join(tmpdir(), "inspector-"));
  writeFileSync(join(directory, "index.html"), "<!doctype html>");
  return directory;
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("ListSessions", () => {
  for (const path of WIRE_PATHS) {
    it(`pages through live sessions in id order, filtered by prefix (${path.name})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: builtInspector(), token: "t" });
      const client = createClient(BridgeService, path.createTransport(server.server.url, "t"));
      for (const id of ["run-3", "other", "run-1", "run-2"])
        await client.initializeSession({ sessionId: id });
      await client.cleanupSession({ sessionId: "run-3" });

      const first = await client.listSessions({ pageSize: 1, prefix: "run-" });
      expect(first.sessions.map((session) => session.sessionId)).toEqual(["run-1"]);
      expect(first.nextPageToken).not.toBe("");
      const second = await client.listSessions({
        pageSize: 1,
        prefix: "run-",
        pageToken: first.nextPageToken,
      });
      expect(second.sessions.map((session) => session.sessionId)).toEqual(["run-2"]);
      expect(second.nextPageToken).toBe("");

      const all = await client.listSessions({ pageSize: 5_000 });
      expect(all.sessions.map((session) => session.sessionId)).toEqual(["other", "run-1", "run-2"]);
      expect(all.sessions[0]?.incarnation).toMatch(/^[0-9a-f]{16}$/);
    });

    it(`requires the token like every call (${path.name})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: builtInspector(), token: "t" });
      const client = createClient(BridgeService, path.createTransport(server.server.url, "wrong"));
      const error = await client.listSessions({}).catch((caught: unknown) => ConnectError.from(caught));
      expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    });

    it(`answers not_found when the inspector is off (${path.name})`, async () => {
      server = await startTestServer();
      const client = createClient(BridgeService, path.createTransport(server.server.url));
      const error = await client.listSessions({}).catch((caught: unknown) => ConnectError.from(caught));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.NotFound);
      expect((error as ConnectError).findDetails(ErrorDetailSchema)[0]?.code).toBe("not_found");
      expect((error as ConnectError).rawMessage).toContain("--inspector");
    });

    it(`refuses an overlong prefix or page token with invalid_value, its echo truncated (${path.name})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: builtInspector() });
      const client = createClient(BridgeService, path.createTransport(server.server.url));
      for (const request of [{ prefix: "p".repeat(100_000) }, { pageToken: "t".repeat(100_000) }]) {
        const error = await client
          .listSessions(request)
          .catch((caught: unknown) => ConnectError.from(caught));
        expect((error as ConnectError).findDetails(ErrorDetailSchema)[0]?.code).toBe("invalid_value");
        expect((error as ConnectError).rawMessage.length).toBeLessThan(1_000);
      }
    });

    it(`refuses a negative page_size with invalid_value (${path.name})`, async () => {
      server = await startTestServer({ inspector: true, inspectorDirectory: builtInspector() });
      const client = createClient(BridgeService, path.createTransport(server.server.url));
      const error = await client
        .listSessions({ pageSize: -1 })
        .catch((caught: unknown) => ConnectError.from(caught));
      expect((error as ConnectError).findDetails(ErrorDetailSchema)[0]?.code).toBe("invalid_value");
    });
  }
});
