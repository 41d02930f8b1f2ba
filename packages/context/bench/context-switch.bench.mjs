// Switch time from LocalState to the bridge for 10, 1,000 and 100,000 variables, with a
// bridge-server in a child process. Each size is measured on fresh contexts, several times.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createContext } from "@statebridge/context";
import { report, summarize } from "../../../bench/lib.mjs";

const require = createRequire(import.meta.url);
const cli = require
  .resolve("@statebridge/bridge-server/package.json")
  .replace(/package\.json$/, "dist/cli.js");

async function startServer() {
  const child = spawn(
    process.execPath,
    [cli, "--port", "0", "--log-level", "warn", "--max-variables", "200000"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      const match = /(https?:\/\/\S+)/.exec(buffer);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code}`)));
  });
  return { url, stop: () => child.kill("SIGTERM") };
}

const server = await startServer();
const rows = [];
for (const [size, repeats] of [
  [10, 20],
  [1_000, 10],
  [100_000, 3],
]) {
  const durations = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    const context = await createContext({ bridge: { url: server.url } });
    for (let index = 0; index < size; index++) {
      await context.register(`param_${index}`, "float", index * 0.5, { metadata: { index } });
    }
    await context.watch(["param_0"], () => {});
    let duration = 0;
    context.on("backend-switch", (event) => {
      duration = event.durationMs;
    });
    await context.ensureBridged();
    durations.push(duration * 1e6);
    await context.close();
  }
  durations.sort((left, right) => left - right);
  rows.push(summarize(`switch ${size.toLocaleString("en-US")} variables`, durations, { repeats }));
}
server.stop();
report("context-switch", rows);
