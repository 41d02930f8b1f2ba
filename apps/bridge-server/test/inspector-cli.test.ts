// `bridge-server --inspector` (and STATEBRIDGE_INSPECTOR=1) prints the inspector's URL, which
// serves the built page; without it no such line is printed.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/cli-options.js";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/**
 * Runs the built CLI until it printed `lines` lines (or 3 s passed).
 * @returns what it printed, and the means to stop it.
 */
async function startCli(
  args: string[],
  lines: number,
): Promise<{ readonly printed: string[]; stop(): void }> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the package first (pnpm build)`);
  const child = spawn(process.execPath, [cli, "--port", "0", "--log-level", "silent", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stop = () => void child.kill("SIGKILL");
  let stdout = "";
  const printed = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => resolve(stdout.split("\n").filter(Boolean)), 3_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const received = stdout.split("\n").filter(Boolean);
      if (received.length >= lines && stdout.endsWith("\n")) {
        clearTimeout(timer);
        resolve(received);
      }
    });
    child.once("exit", (code) => reject(new Error(`the CLI exited with ${code}: ${stdout}`)));
  }).catch((error: unknown) => {
    stop();
    throw error;
  });
  return { printed, stop };
}

describe("bridge-server --inspector", () => {
  it("prints the inspector's URL, which serves the page", async () => {
    const running = await startCli(["--inspector"], 2);
    try {
      const [listening, inspector] = running.printed;
      const url = /listening on (\S+)$/.exec(listening ?? "")?.[1];
      expect(inspector).toBe(`inspector: ${url}/inspect/`);
      const page = await fetch(`${url}/inspect/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await page.text()).toContain("statebridge inspector");
    } finally {
      running.stop();
    }
  });

  it("prints no inspector line without it", async () => {
    const running = await startCli([], 2);
    running.stop();
    expect(running.printed.filter((line) => line.startsWith("inspector:"))).toEqual([]);
  });

  it("is turned on by --inspector or STATEBRIDGE_INSPECTOR=1, and off by default", () => {
    const inspectorOf = (argv: string[], environment: NodeJS.ProcessEnv) => {
      const parsed = parseCommandLine(argv, environment);
      return parsed.kind === "serve" ? parsed.options.inspector : "not serve";
    };
    expect(inspectorOf([], {})).toBeUndefined();
    expect(inspectorOf(["--inspector"], {})).toBe(true);
    expect(inspectorOf([], { STATEBRIDGE_INSPECTOR: "1" })).toBe(true);
  });
});
