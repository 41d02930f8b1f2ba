// listSessions(), the TypeScript client of ListSessions (the inspector's RPC), against an
// in-process bridge-server.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import { isStateError } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createBridgedState, listSessions } from "../src/index.js";

let server: BridgeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The smallest built inspector: these tests are about the RPC, not the page. */
function builtInspector(): string {
  const directory = mkdtempSync(join(tmpdir(), "inspector-"));
  writeFileSync(join(directory, "index.html"), "<!doctype html>");
  return directory;
}

async function start(options: Parameters<typeof createBridgeServer>[0] = {}): Promise<BridgeServer> {
  server = await createBridgeServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 100, ...options });
  return server;
}

describe("listSessions", () => {
  it("pages through the sessions in id order, with a prefix", async () => {
    const { url } = await start({ inspector: true, inspectorDirectory: builtInspector(), token: "t" });
    for (const id of ["run-b", "run-a", "other"]) {
      const state = await createBridgedState({ url, sessionId: id, token: "t" });
      await state.register("x", "integer", 1);
      await state.close();
    }
    const first = await listSessions({ url, token: "t", prefix: "run-", pageSize: 1 });
    expect(first.sessions.map((session) => session.sessionId)).toEqual(["run-a"]);
    expect(first.sessions[0]).toMatchObject({ revision: 1, variableCount: 1 });
    const second = await listSessions({ url, token: "t", prefix: "run-", pageToken: first.nextPageToken! });
    expect(second.sessions.map((session) => session.sessionId)).toEqual(["run-b"]);
    expect(second.nextPageToken).toBeUndefined();
  });

  it("fails with not_found when the server runs without the inspector", async () => {
    const { url } = await start();
    const error = await listSessions({ url }).catch((caught: unknown) => caught);
    expect(isStateError(error) && error.code).toBe("not_found");
  });

  it("fails with unauthenticated for a wrong token", async () => {
    const { url } = await start({ inspector: true, inspectorDirectory: builtInspector(), token: "t" });
    const error = await listSessions({ url, token: "wrong" }).catch((caught: unknown) => caught);
    expect(isStateError(error) && error.code).toBe("unauthenticated");
  });
});
