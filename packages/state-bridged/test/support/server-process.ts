import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The bridge-server CLI, as built by `pnpm --filter @statebridge/bridge-server build`. */
export const BRIDGE_SERVER_CLI = fileURLToPath(
  new URL("../../../../apps/bridge-server/dist/cli.js", import.meta.url),
);

/** A bridge-server running as a child process. */
export interface ServerProcess {
  /** The address it printed, as `http://host:port`. */
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Sends SIGTERM and waits for the exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `node apps/bridge-server/dist/cli.js --port 0 …args` and waits for the line in which
 * it prints its address.
 * @param args - more CLI flags (quotas, token…).
 * @param env - more environment variables.
 */
export async function startServerProcess(
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ServerProcess> {
  if (!existsSync(BRIDGE_SERVER_CLI)) {
    throw new Error(`${BRIDGE_SERVER_CLI} does not exist: build the bridge-server first`);
  }
  const child = spawn(process.execPath, [BRIDGE_SERVER_CLI, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(
      () => fail(new Error("the bridge-server printed no address within 15 s")),
      15_000,
    );
    function fail(error: Error): void {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout += chunk;
      const address = parseAddress(stdout);
      if (address !== undefined) {
        clearTimeout(timer);
        resolve(address);
      }
    });
    child.once("exit", (code, signal) =>
      fail(new Error(`the bridge-server exited (${code ?? signal}) before printing its address`)),
    );
  });
  // Keep draining stdout so that a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: child.pid as number,
    child,
    stderr: () => stderr,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Finds the first `http(s)://host:port` in what the server printed. */
export function parseAddress(output: string): string | undefined {
  const match = /(https?:\/\/(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):\d+)/.exec(output);
  return match?.[1];
}
