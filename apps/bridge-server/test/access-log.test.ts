import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, type BridgeServerLogger, createBridgeServer } from "../src/index.js";
import { WIRE_PATHS } from "./metrics-support.js";
import { wire } from "./support-values.js";

interface Line {
  readonly level: string;
  readonly object: Record<string, unknown>;
  readonly message: string | undefined;
}

/** A logger that keeps its lines; `debug` says whether it writes debug lines, as pino's does. */
function recordingLogger(debug: boolean): BridgeServerLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const write = (level: string) => (object: object, message?: string) => {
    lines.push({ level, object: object as Record<string, unknown>, message });
  };
  return {
    lines,
    debug: (object, message) => {
      if (debug) write("debug")(object, message);
    },
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    isLevelEnabled: (level) => level !== "debug" || debug,
  };
}

const accessLines = (logger: { lines: Line[] }, sessionId: string) =>
  logger.lines.filter((line) => line.message === "call" && line.object.sessionId === sessionId);

let sessionCounter = 0;
const nextSessionId = () => `access-log-${++sessionCounter}`;

describe("the access log, at debug", () => {
  const logger = recordingLogger(true);
  let server: BridgeServer;

  beforeAll(async () => {
    server = await createBridgeServer({ host: "127.0.0.1", port: 0, logger, shutdownGraceMs: 200 });
  });
  afterAll(() => server.close());

  for (const path of WIRE_PATHS) {
    it(`${path.name}: one JSON line per call, with method, code, duration, session and path`, async () => {
      const client = createClient(BridgeService, path.createTransport(server.url));
      const sessionId = nextSessionId();
      await client.initializeSession({ sessionId });
      await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });
      await client.getVariable({ sessionId, identifier: "x" });
      await client.getVariable({ sessionId, identifier: "missing" }).catch(() => undefined);
      const lines = await waitForLines(logger, sessionId, 4);
      expect(lines.map((line) => [line.object.method, line.object.code])).toEqual([
        ["statebridge.v1.BridgeService/InitializeSession", "OK"],
        ["statebridge.v1.BridgeService/RegisterVariable", "OK"],
        ["statebridge.v1.BridgeService/GetVariable", "OK"],
        ["statebridge.v1.BridgeService/GetVariable", "NOT_FOUND"],
      ]);
      for (const line of lines) {
        expect(line.level).toBe("debug");
        expect(line.object.path).toBe(path.direct ? "direct" : "connect");
        expect(line.object.protocol).toBe(path.name.startsWith("connect") ? "connect_rpc" : "grpc");
        expect(typeof line.object.durationMs).toBe("number");
        expect(line.object.durationMs as number).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it("a call carrying a traceparent is logged with its trace id", async () => {
    const client = createClient(BridgeService, WIRE_PATHS[0]?.createTransport(server.url) as never);
    const sessionId = nextSessionId();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await client.initializeSession(
      { sessionId },
      { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
    );
    const [line] = await waitForLines(logger, sessionId, 1);
    expect(line?.object.traceId).toBe(traceId);
  });
});

describe("the access log when debug is off", () => {
  it("writes nothing", async () => {
    const logger = recordingLogger(false);
    const server = await createBridgeServer({ host: "127.0.0.1", port: 0, logger, shutdownGraceMs: 200 });
    try {
      const client = createClient(BridgeService, WIRE_PATHS[0]?.createTransport(server.url) as never);
      const sessionId = nextSessionId();
      await client.initializeSession({ sessionId });
      await client.ping({ message: "quiet" });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(logger.lines.filter((line) => line.message === "call")).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

/** Lines of `sessionId`'s calls, once there are `count` (a call's line comes when its stream closes). */
async function waitForLines(logger: { lines: Line[] }, sessionId: string, count: number): Promise<Line[]> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (accessLines(logger, sessionId).length >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return accessLines(logger, sessionId);
}

describe("the CLI", () => {
  const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

  it("at --log-level debug writes one JSON access line per call on stderr, and --metrics-port prints and serves its URL", async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: build the package first (pnpm build)`);
    const child = spawn(
      process.execPath,
      [cli, "--port", "0", "--metrics-port", "0", "--log-level", "debug"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const [address, metricsUrl] = await new Promise<[string, string]>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          const listening = /listening on (http:\/\/\S+)\n/.exec(stdout)?.[1];
          const metrics = /metrics: (http:\/\/\S+)\n/.exec(stdout)?.[1];
          if (listening !== undefined && metrics !== undefined) resolve([listening, metrics]);
        });
        child.once("exit", (code) => reject(new Error(`the CLI exited with ${code}: ${stderr}`)));
      });
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const sessionManager = new Http2SessionManager(address);
      try {
        const client = createClient(BridgeService, createGrpcTransport({ baseUrl: address, sessionManager }));
        await client.initializeSession({ sessionId: "cli-access-log" });
      } finally {
        sessionManager.abort();
      }
      const scraped = await (await fetch(metricsUrl)).text();
      expect(scraped).toMatch(
        /statebridge_rpc_requests_total\{service="statebridge.v1.BridgeService",method="InitializeSession",code="OK",path="direct"\} 1/,
      );
      for (let attempt = 0; attempt < 300 && !stderr.includes('"msg":"call"'); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const lines = stderr
        .split("\n")
        .filter((line) => line.includes('"msg":"call"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 20,
        method: "statebridge.v1.BridgeService/InitializeSession",
        code: "OK",
        sessionId: "cli-access-log",
        path: "direct",
        protocol: "grpc",
      });
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
