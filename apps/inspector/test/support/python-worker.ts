import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const PYTHON_SOURCE = fileURLToPath(new URL("../../../../clients/python/src", import.meta.url));

/**
 * Runs a Python program (Debian's /usr/bin/python3, the statebridge client on its path) to
 * its end. @returns its stdout. @throws with its stderr if it exits with an error.
 */
export async function runPython(program: string, args: readonly string[]): Promise<string> {
  const child = spawn("/usr/bin/python3", ["-c", program, ...args], {
    env: { ...process.env, PYTHONPATH: PYTHON_SOURCE, PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`python exited with ${code}: ${stderr}`);
  return stdout;
}
