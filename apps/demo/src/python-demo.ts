// `pnpm demo:python`: a TypeScript program and a Python worker tuning one variable together.
// The program starts on a Context (in process, LocalState), registers `temperature`, watches
// it, and registers a Python program: the Context moves its state onto a bridge-server (ids,
// versions and the watch kept). A Python worker (apps/demo/python/worker.py, statebridge's
// SessionContext) then joins the same session, tunes `temperature` with compare-and-set and
// writes it back; the TypeScript watcher prints every change with its source.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createContext } from "@statebridge/context";
import type { WatchEvent } from "@statebridge/state-provider";

const REPOSITORY = fileURLToPath(new URL("../../../", import.meta.url));
const SERVER_CLI = `${REPOSITORY}apps/bridge-server/dist/cli.js`;
const WORKER = `${REPOSITORY}apps/demo/python/worker.py`;
const PYTHON = "/usr/bin/python3";

function log(message: string): void {
  console.log(`[typescript] ${message}`);
}

/** Starts the bridge-server CLI on a free port and resolves with the address it prints. */
async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  if (!existsSync(SERVER_CLI)) {
    log("building the bridge-server");
    execFileSync(
      "pnpm",
      ["turbo", "run", "build", "--filter=@statebridge/bridge-server...", "--output-logs=errors-only"],
      {
        cwd: REPOSITORY,
        stdio: "inherit",
      },
    );
  }
  const child = spawn(process.execPath, [SERVER_CLI, "--port", "0", "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const match = /listening on (https?:\/\/\S+)/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`the bridge-server exited (${code}) before listening`)));
  });
  return { url, child };
}

/** Runs the Python worker to its end, passing its output through. */
function runWorker(url: string, sessionId: string): Promise<void> {
  const worker = spawn(PYTHON, [WORKER, url, sessionId], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, PYTHONPATH: `${REPOSITORY}clients/python/src` },
  });
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`the Python worker exited with ${code}`)),
    );
  });
}

function describeChange(event: WatchEvent): string {
  const metadata = event.metadata as { step?: number; score?: number };
  // Metadata merges, so a later TypeScript write still carries Python's last step.
  const detail =
    event.source === "python" && metadata.step !== undefined
      ? ` (step ${metadata.step}, score ${metadata.score})`
      : "";
  return `watch: ${event.name} ${String(event.oldValue)} → ${String(event.newValue)} v${event.version} by ${event.source}${detail}`;
}

async function main(): Promise<void> {
  const server = await startServer();
  log(`bridge-server listening on ${server.url}`);
  const context = await createContext({ bridge: { url: server.url } });
  try {
    context.on("backend-switch", (event) =>
      log(
        `switched ${event.from} → ${event.to} in ${event.durationMs.toFixed(1)} ms: ${event.variables} variables, ${event.watchers} watchers (${event.reason})`,
      ),
    );
    await context.register("temperature", "float", 0.7, {
      constraints: { min: 0, max: 2 },
      description: "sampling temperature",
    });
    await context.register("tuning_done", "boolean", false);
    log(`registered temperature = 0.7 on the ${context.backend} backend (session ${context.sessionId})`);

    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    await context.watch(["temperature", "tuning_done"], (event) => {
      if (event.name === "tuning_done") {
        if (event.newValue === true) finished();
        return;
      }
      log(describeChange(event));
    });

    await context.registerProgram({ name: "temperature-tuner", runtime: "python" });
    log(`now on the ${context.backend} backend; starting the Python worker`);

    const worker = runWorker(server.url, context.sessionId);
    // A write from TypeScript while Python tunes: the worker's compare-and-set notices it.
    setTimeout(() => {
      context
        .set("temperature", 0.9, { metadata: { by: "typescript" } })
        .then((version) => log(`set temperature to 0.9 (version ${version})`))
        .catch((error: unknown) => log(`set failed: ${String(error)}`));
    }, 1_000);
    await worker;
    await done;
    const final = await context.getVariable("temperature");
    log(
      `final: temperature = ${String(final.value)}, version ${final.version}, last written by ${final.source}`,
    );
  } finally {
    await context.close();
    server.child.kill("SIGTERM");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
