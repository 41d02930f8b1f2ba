import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// --store on the command line: a Redis store needs the optional Redis package, and a server
// started without it says so and how to add it, instead of a stack trace.

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const hideRedis = fileURLToPath(new URL("./support-hide-redis.mjs", import.meta.url));

function run(args: string[], nodeOptions: string[] = []): Promise<{ code: number | null; output: string }> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the package first (pnpm build)`);
  const child = spawn(process.execPath, [...nodeOptions, cli, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, output })));
}

describe("bridge-server --store", () => {
  it("without @statebridge/session-store-redis installed, a Redis store exits 1 saying which package to add", async () => {
    const { code, output } = await run(["--store", "redis://127.0.0.1:6390/0"], ["--import", hideRedis]);
    expect(code).toBe(1);
    expect(output).toContain(
      "bridge-server: cannot start: a Redis store needs the package @statebridge/session-store-redis, which is not installed",
    );
    expect(output).toContain("pnpm add @statebridge/session-store-redis");
  });

  it("refuses a store that is neither memory nor a Redis URL with exit 2 before starting", async () => {
    const { code, output } = await run(["--store", "mysql://127.0.0.1/0"]);
    expect(code).toBe(2);
    expect(output).toContain('--store must be memory or redis://host:port/db, got the scheme "mysql:"');
  });
});
