import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const serverPackage = dirname(
  createRequire(import.meta.url).resolve("@statebridge/bridge-server/package.json"),
);
/** The bridge-server CLI, as built by `pnpm --filter @statebridge/bridge-server build`. */
const CLI = join(serverPackage, "dist", "cli.js");

/** A bridge-server running as a child process. */
export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Resident memory of the server process now, in bytes (from /proc). */
  residentBytes(): number;
  /** Sends `signal` (default SIGTERM) and waits for the exit. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `node bridge-server/dist/cli.js --port <port> …flags` and waits for the line in which
 * it prints its address.
 */
export async function startServerProcess(flags: readonly string[] = [], port = 0): Promise<ServerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: build the bridge-server first`);
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, "--port", String(port), "--log-level", "warn", ...flags],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail("printed no address within 15 s"), 15_000);
    function fail(reason: string): void {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`the bridge-server ${reason}\n${output}`));
    }
    child.once("exit", (code) => fail(`exited with ${code}`));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  const pid = child.pid as number;
  return {
    url,
    port: Number(new URL(url).port),
    pid,
    residentBytes() {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kibibytes = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      if (kibibytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
      return Number(kibibytes) * 1024;
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
