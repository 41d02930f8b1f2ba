// Runs one attack of support-attacks.mjs against a bridge-server child process: samples the
// server's resident memory, keeps a bystander pinging it (on its own connection, and on a new
// connection every half second), and reports what happened. The attack runs in a worker thread
// so that its work never delays the bystander's event loop. Shared by test/attacks.test.ts and
// bench/attacks.bench.mjs.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { PingRequestSchema } from "@statebridge/proto";
import { ATTACK_TOKEN, ATTACKS, call, connect, framed, NO_ATTACK } from "./support-attacks.mjs";

/** The bridge-server CLI, as `pnpm build` leaves it. */
export const BRIDGE_SERVER_CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
/** How long each attack runs: 30 s, or STATEBRIDGE_ATTACK_SECONDS for local runs. */
export const ATTACK_SECONDS = Number(process.env.STATEBRIDGE_ATTACK_SECONDS ?? 30);
/** The server's resident memory must stay under this during every attack. */
export const RSS_BOUND_BYTES = 400 * 1024 * 1024;
/** A bystander's call not answered within this counts as a failure. */
export const BYSTANDER_DEADLINE_MS = 10_000;

const RSS_SAMPLE_MS = 100;
const PING_INTERVAL_MS = 10;
const FRESH_CONNECTION_INTERVAL_MS = 500;
const STDERR_KEPT = 64 * 1024;

/** The server's resident set, in bytes, from /proc; undefined once it has exited. */
export function residentBytes(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

let help;
/** The CLI's `--help` text: attacks use the flags it lists (others may still be missing). */
export function serverHelp() {
  if (!existsSync(BRIDGE_SERVER_CLI))
    throw new Error(`${BRIDGE_SERVER_CLI} is missing: build the package first`);
  help ??= spawnSync(process.execPath, [BRIDGE_SERVER_CLI, "--help"], { encoding: "utf8" }).stdout;
  return help;
}

/**
 * Starts `node dist/cli.js --port 0 --log-level warn …args`, under an open-file limit when
 * given, and waits for its address.
 */
export async function startServer(args, fileLimit) {
  serverHelp();
  const argv = [BRIDGE_SERVER_CLI, "--port", "0", "--log-level", "warn", ...args];
  const options = { stdio: ["ignore", "pipe", "pipe"] };
  const child =
    fileLimit === undefined
      ? spawn(process.execPath, argv, options)
      : spawn(
          "/bin/sh",
          ["-c", `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, ...argv],
          options,
        );
  let stderr = "";
  let overflowWarnings = 0;
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    overflowWarnings += chunk.split("TimeoutOverflowWarning").length - 1;
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });
  let exit;
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const url = await new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`the server printed no address: ${stderr}`)), 15_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = /(http:\/\/\S+:\d+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => reject(new Error(`the server exited before listening: ${stderr}`)));
  });
  child.stdout.resume();
  return {
    url,
    pid: child.pid,
    stderr: () => stderr,
    overflowWarnings: () => overflowWarnings,
    exit: () => exit,
    async stop() {
      if (exit !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Pings until the signal aborts; resolves with what happened to each call, the calls in flight
 * at the end included (a server still busy with the attack must answer them too).
 */
async function bystander(url, token, signal) {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const ping = framed(PingRequestSchema, { message: "bystander" });
  const result = { answered: 0, latenciesNs: [], failures: [], freshAnswered: 0, freshFailures: [] };
  const ask = async (session) => {
    const start = process.hrtime.bigint();
    const answer = await call(session, "/statebridge.v1.BridgeService/Ping", [ping], headers, {
      timeoutMs: BYSTANDER_DEADLINE_MS,
    });
    return { answer, latencyNs: Number(process.hrtime.bigint() - start) };
  };
  const describe = (answer) => `${answer.grpcStatus} ${answer.message ?? ""}`.trim();
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const persistent = async () => {
    let session = connect(url);
    while (!signal.aborted) {
      if (session.closed || session.destroyed) session = connect(url);
      const { answer, latencyNs } = await ask(session);
      if (answer.grpcStatus === "0") {
        result.answered++;
        result.latenciesNs.push(latencyNs);
      } else {
        result.failures.push(describe(answer));
      }
      await wait(PING_INTERVAL_MS);
    }
    session.destroy();
  };
  const fresh = async () => {
    while (!signal.aborted) {
      const session = connect(url);
      const { answer } = await ask(session);
      session.destroy();
      if (answer.grpcStatus === "0") result.freshAnswered++;
      else result.freshFailures.push(describe(answer));
      await wait(FRESH_CONNECTION_INTERVAL_MS);
    }
  };
  await Promise.all([persistent(), fresh()]);
  return result;
}

/**
 * Runs one attack of {@link ATTACKS} (or {@link NO_ATTACK}) for `seconds` against a new server and reports: the
 * server's resident memory before and at its peak, the bystander's answers and failures, the
 * attack's own counts, whether the server exited, and its TimeoutOverflowWarnings.
 */
export async function runAttack(attack, { seconds = ATTACK_SECONDS } = {}) {
  const serverArgs = [
    ...(attack.token === true ? ["--token", ATTACK_TOKEN] : []),
    ...(attack.serverArgs?.(serverHelp()) ?? []),
  ];
  const server = await startServer(serverArgs, attack.fileLimit);
  try {
    await attack.setup?.(server.url);
    const baselineRssBytes = residentBytes(server.pid) ?? 0;
    let peakRssBytes = baselineRssBytes;
    const sampler = setInterval(() => {
      peakRssBytes = Math.max(peakRssBytes, residentBytes(server.pid) ?? 0);
    }, RSS_SAMPLE_MS);
    const stop = new AbortController();
    const bystanding = bystander(server.url, attack.token === true ? ATTACK_TOKEN : undefined, stop.signal);
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { attack: attack.name, url: server.url },
    });
    let attackError;
    const attackStats = new Promise((resolve) => {
      worker.once("message", resolve);
      worker.once("error", (error) => {
        attackError = String(error?.stack ?? error);
        resolve({});
      });
      worker.once("exit", () => resolve({}));
    });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    worker.postMessage("stop");
    const stats = await Promise.race([
      attackStats,
      new Promise((resolve) => setTimeout(() => resolve({}), 20_000)),
    ]);
    await worker.terminate();
    stop.abort();
    const bystanderResult = await bystanding;
    clearInterval(sampler);
    peakRssBytes = Math.max(peakRssBytes, residentBytes(server.pid) ?? 0);
    return {
      name: attack.name,
      seconds,
      serverArgs,
      baselineRssBytes,
      peakRssBytes,
      bystander: bystanderResult,
      attackStats: stats,
      attackError,
      serverExit: server.exit(),
      overflowWarnings: server.overflowWarnings(),
      stderrTail: server.stderr().slice(-4096),
    };
  } finally {
    await server.stop();
  }
}

// In the worker: run the named attack until the parent says stop, then send back its counts
// at once (calls still pending are cut when the parent terminates the worker).
if (!isMainThread && workerData?.attack !== undefined) {
  const attack = [NO_ATTACK, ...ATTACKS].find((candidate) => candidate.name === workerData.attack);
  const controller = new AbortController();
  const stats = {};
  parentPort.once("message", () => {
    controller.abort();
    parentPort.postMessage(stats);
  });
  attack.run(workerData.url, controller.signal, stats).catch((error) => {
    stats.error = String(error?.stack ?? error);
  });
}
