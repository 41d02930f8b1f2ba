// How each figure of the peer benchmark is taken: latency samples (bench/lib.mjs), throughput
// of 32 callers with each side's CPU per operation, and set → callback times measured by a
// watcher process (watcher.mjs) on the machine's monotonic clock.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { quantile, sample } from "../lib.mjs";
import { processCpuMicroseconds, residentBytes } from "./servers.mjs";

const WATCHER = fileURLToPath(new URL("./watcher.mjs", import.meta.url));

/** The p50 in nanoseconds of `operation` over `samples` calls after `warmup`. */
export async function p50(operation, { samples, warmup }) {
  return quantile(await sample(operation, { samples, warmup }), 0.5);
}

/**
 * `callers` loops of `operation` for `durationMs`: operations per second, and the CPU per
 * operation of this process (the client) and of the server processes `serverPids`.
 */
export async function throughput(operation, serverPids, { callers = 32, durationMs }) {
  await Promise.all(Array.from({ length: callers }, (_, caller) => operation(caller)));
  const clientBefore = process.cpuUsage();
  const serverBefore = serverPids.map(processCpuMicroseconds);
  let operations = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (performance.now() < until) {
        await operation(caller);
        operations++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const client = process.cpuUsage(clientBefore);
  const server = serverPids.reduce(
    (total, pid, index) => total + processCpuMicroseconds(pid) - serverBefore[index],
    0,
  );
  return {
    opsPerSecond: operations / seconds,
    clientCpuUs: (client.user + client.system) / operations,
    serverCpuUs: server / operations,
  };
}

let lastValue = Date.now() % 1_000_000;

/**
 * A watcher process holding `watchers` watchers over `connections` connections of `kind`
 * (watcher.mjs). `reach(write)` writes a new value with `write(value)` and resolves with the
 * nanoseconds from just before the write to the last watcher's receipt of it.
 */
export async function startWatchers(setup, { readyTimeoutMs = 600_000 } = {}) {
  const child = fork(WATCHER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map();
  child.on("message", (message) => {
    if (message.type !== "reached") return;
    waiting.get(message.value)?.(BigInt(message.at));
    waiting.delete(message.value);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${setup.kind} watchers not ready`)), readyTimeoutMs);
    child.once("message", (message) => {
      clearTimeout(timer);
      if (message.type === "ready") resolve();
      else reject(new Error(`unexpected ${message.type}`));
    });
    child.once("exit", (code) => reject(new Error(`${setup.kind} watcher process exited with ${code}`)));
    child.send(setup);
  });
  return {
    pid: child.pid,
    async reach(write, timeoutMs = 60_000) {
      const value = ++lastValue;
      let timer;
      const reached = new Promise((resolve, reject) => {
        waiting.set(value, resolve);
        timer = setTimeout(
          () => reject(new Error(`${setup.kind}: ${value} did not reach the watchers`)),
          timeoutMs,
        );
      });
      reached.catch(() => {});
      const start = process.hrtime.bigint();
      await write(value);
      const at = await reached;
      clearTimeout(timer);
      return Number(at - start);
    },
    async close() {
      child.send({ type: "close" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The p50 of set → callback in another process, one change in flight at a time. */
export async function watchLatency(setup, write, { samples, warmup }) {
  const watchers = await startWatchers({ ...setup, watchers: 1, connections: 1 });
  try {
    for (let index = 0; index < warmup; index++) await watchers.reach(write);
    const durations = [];
    for (let index = 0; index < samples; index++) durations.push(await watchers.reach(write));
    return quantile(
      durations.sort((left, right) => left - right),
      0.5,
    );
  } finally {
    await watchers.close();
  }
}

/**
 * One update reaching `watchers` watchers (`perConnection` on each connection, default 100):
 * the median time of `updates` updates, and the servers' RSS growth per watcher once all are
 * watching.
 */
export async function fanOut(setup, write, serverPids, { watchers, updates, perConnection = 100 }) {
  global.gc?.();
  const before = serverPids.reduce((total, pid) => total + residentBytes(pid), 0);
  const connections = Math.max(1, Math.ceil(watchers / perConnection));
  const watching = await startWatchers({ ...setup, watchers, connections });
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = serverPids.reduce((total, pid) => total + residentBytes(pid), 0);
    await watching.reach(write);
    const durations = [];
    for (let index = 0; index < updates; index++) durations.push(await watching.reach(write));
    return {
      timeNs: quantile(
        durations.sort((left, right) => left - right),
        0.5,
      ),
      bytesPerWatcher: (after - before) / watchers,
    };
  } finally {
    await watching.close();
  }
}

/** The median of numbers (NaN for none). */
export function median(values) {
  const sorted = values.filter(Number.isFinite).sort((left, right) => left - right);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
