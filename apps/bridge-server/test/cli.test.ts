import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { describe, expect, it } from "vitest";
import { bearer } from "./support.js";
import { failureOf } from "./support-values.js";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface RunningCli {
  readonly child: ChildProcess;
  readonly address: string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built CLI and waits for its address line. */
function startCli(args: string[], environment: NodeJS.ProcessEnv = {}): Promise<RunningCli> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the package first (pnpm build)`);
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...environment },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^statebridge bridge-server listening on (http:\/\/\S+)\n/.exec(stdout);
      if (match?.[1] !== undefined) resolve({ child, address: match[1], stderr: () => stderr, exit });
    });
    void exit.then(({ code }) =>
      reject(new Error(`the CLI exited with ${code} before listening: ${stderr}`)),
    );
  });
}

function runToExit(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("the bridge-server CLI", () => {
  it("prints its address, serves calls, and exits 0 on SIGTERM", async () => {
    const running = await startCli(["--port", "0", "--log-level", "info"]);
    const sessionManager = new Http2SessionManager(running.address);
    try {
      expect(running.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = createClient(
        BridgeService,
        createGrpcTransport({ baseUrl: running.address, sessionManager }),
      );
      expect((await client.ping({ message: "from a test" })).message).toBe("from a test");
      // A watch is open when the signal arrives: it must end cleanly, not hold the exit.
      const watching = (async () => {
        await client.initializeSession({ sessionId: "cli" });
        await client.registerVariable({
          sessionId: "cli",
          name: "x",
          type: "boolean",
          initialValue: { kind: { case: "booleanValue", value: true } },
        });
        const stream = client.watchVariables({ sessionId: "cli", identifiers: ["x"] });
        return failureOf(
          (async () => {
            // One signal, at the first message: a second one makes the CLI exit at once.
            let signalled = false;
            for await (const _message of stream) {
              if (!signalled) running.child.kill("SIGTERM");
              signalled = true;
            }
          })(),
        );
      })();
      const signalled = Date.now();
      const failure = await watching;
      expect(failure.trailerCode).toBe("unavailable");
      const outcome = await Promise.race([
        running.exit,
        new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 5_000)),
      ]);
      // The promise of the CLI: a graceful shutdown ends within 5 s of the signal.
      expect(outcome).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(5_000);
      const logLines = running
        .stderr()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { msg: string });
      expect(logLines.map((line) => line.msg)).toContain("listening");
      expect(logLines.map((line) => line.msg)).toContain("stopped");
    } finally {
      sessionManager.abort();
      running.child.kill("SIGKILL");
    }
  }, 15_000);

  it("requires the token given in STATEBRIDGE_TOKEN", async () => {
    const running = await startCli(["--port", "0", "--log-level", "silent"], {
      STATEBRIDGE_TOKEN: "from-env",
    });
    const sessionManager = new Http2SessionManager(running.address);
    try {
      const transport = (interceptors: Parameters<typeof bearer>[0][]) =>
        createGrpcTransport({
          baseUrl: running.address,
          sessionManager,
          interceptors: interceptors.map(bearer),
        });
      const anonymous = createClient(BridgeService, transport([]));
      expect((await failureOf(anonymous.ping({ message: "x" }))).trailerCode).toBe("unauthenticated");
      const authorized = createClient(BridgeService, transport(["from-env"]));
      expect((await authorized.ping({ message: "x" })).message).toBe("x");
    } finally {
      sessionManager.abort();
      running.child.kill("SIGINT");
      expect((await running.exit).code).toBe(0);
    }
  });

  it("exits 2 with a clear message for an unknown flag or a bad value", async () => {
    const unknown = await runToExit(["--no-such-flag"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--no-such-flag");
    const badPort = await runToExit(["--port", "seventy"]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("--port must be a whole number");
  });

  it("prints usage with --help and exits 0", async () => {
    const help = await runToExit(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--max-request-bytes");
    expect(help.stdout).toContain("STATEBRIDGE_TOKEN");
  });

  it("exits 1 with the reason when its port is taken", async () => {
    const first = await startCli(["--port", "0", "--log-level", "silent"]);
    try {
      const port = new URL(first.address).port;
      const second = await runToExit(["--port", port, "--log-level", "silent"]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain("EADDRINUSE");
    } finally {
      first.child.kill("SIGTERM");
      await first.exit;
    }
  });
});
