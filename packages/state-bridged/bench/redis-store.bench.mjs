// BridgedState against bridge-servers on the Redis store and on the in-memory store, in one
// run: Debian's redis-server on a free loopback port (persistence off), two bridge-server
// child processes on it (A and B) and one on the memory store. Measures get, set and
// updateMany(100, atomic) p50/p99 and 32-caller throughput through each store (rounds
// interleaved between the stores so that a busy machine's drift falls on both alike; each
// figure is the median over rounds), a set through B reaching a watcher on A (and, for
// comparison, a set reaching a watcher on the same memory-store server), and raw node-redis
// GET/SET on the same Redis as the floor. Latency rows also give the CPU per call of every
// process the call runs through (client, bridge-servers, Redis), which says where its time
// goes on a machine whose cores they share. Prints each Redis ÷ memory ratio against the goals
// (get and set p50 within 1.5×; cross-server watch p50 ≤ 1 ms). Run from the root with
// `node bench/run.mjs state-bridged/bench/redis-store` (needs the packages built; `pnpm bench`
// builds them and runs every bench).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBridgedState } from "@statebridge/state-bridged";
import { formatDuration, quantile, report, sample } from "../../../bench/lib.mjs";

const binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"].find(
  (path) => existsSync(path),
);
if (binary === undefined) {
  console.log("skipped: needs redis-server (Debian's redis-server 7; run scripts/redis-setup.sh)");
  process.exit(0);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const requireFromServer = createRequire(
  createRequire(import.meta.url).resolve("@statebridge/bridge-server/package.json"),
);
const cli = join(
  dirname(requireFromServer.resolve("@statebridge/bridge-server/package.json")),
  "dist",
  "cli.js",
);
// node-redis, as the Redis store itself resolves it (this package does not depend on it).
const { createClient } = await import(
  pathToFileURL(
    createRequire(requireFromServer.resolve("@statebridge/session-store-redis/package.json")).resolve(
      "redis",
    ),
  ).href
);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A bridge-server CLI child process on a free port with `--store store`; resolves with its URL. */
async function startServer(store) {
  const child = spawn(process.execPath, [cli, "--port", "0", "--log-level", "warn", "--store", store], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code}: ${output}`)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /(https?:\/\/\S+:\d+)/.exec(output);
      if (match) resolve(match[1]);
    });
  });
  child.stdout.resume();
  return { child, url };
}

async function stopServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** Runs `callers` loops of `operation` for `durationMs`; returns operations per second. */
async function throughput(operation, { callers = 32, durationMs = 1500 } = {}) {
  let operations = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      let index = 0;
      while (performance.now() < until) {
        await operation(caller, index++);
        operations++;
      }
    }),
  );
  return operations / ((performance.now() - start) / 1000);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** CPU time a process has used so far, in microseconds (from /proc: clock ticks of 10 ms). */
function processCpuMicroseconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Per-round figures of one measurement on one store, kept so that their medians can be
 * reported: latency quantiles or a rate, and the CPU per call of each process taking part
 * (this client, the bridge-servers, Redis), which says where a call's time goes.
 */
class Figures {
  p50 = [];
  p99 = [];
  rate = [];
  cpu = new Map();
  constructor(processes = {}) {
    this.processes = processes;
  }
  /** Samples `operation` (see `sample`), recording its quantiles and each process's CPU per call. */
  async sample(operation, options) {
    const clientBefore = process.cpuUsage();
    const before = Object.entries(this.processes).map(([label, pid]) => [
      label,
      pid,
      processCpuMicroseconds(pid),
    ]);
    const sorted = await sample(operation, options);
    const calls = options.samples + options.warmup;
    const client = process.cpuUsage(clientBefore);
    this.addCpu("client", (client.user + client.system) / calls);
    for (const [label, pid, start] of before)
      this.addCpu(label, (processCpuMicroseconds(pid) - start) / calls);
    this.p50.push(quantile(sorted, 0.5));
    this.p99.push(quantile(sorted, 0.99));
  }
  addCpu(label, microseconds) {
    if (!this.cpu.has(label)) this.cpu.set(label, []);
    this.cpu.get(label).push(microseconds);
  }
  addRate(rate) {
    this.rate.push(rate);
  }
  /** Median CPU per call of each process, as row fields (`serverCpuUsPerCall`, …). */
  cpuFields() {
    return Object.fromEntries(
      [...this.cpu].map(([label, values]) => [`${label}CpuUsPerCall`, median(values)]),
    );
  }
}

const names = Array.from({ length: 100 }, (_, index) => `param_${index}`);

/** A BridgedState on `url` with the 100 float variables the measurements use. */
async function preparedState(url, sessionId) {
  const provider = await createBridgedState(sessionId === undefined ? { url } : { url, sessionId });
  for (const name of names) await provider.register(name, "float", 0);
  return provider;
}

/**
 * A watcher of `param_1` on `watcherUrl` and a writer on `writerUrl`, in one session: each
 * sample is a set through the writer until the watcher's callback has that value.
 */
async function watchPair(watcherUrl, writerUrl, sessionId) {
  const watcherState = await createBridgedState({ url: watcherUrl, sessionId });
  await watcherState.register("param_1", "float", 0);
  const writer = await createBridgedState({ url: writerUrl, sessionId });
  let expected = Number.NaN;
  let resolveReceived;
  const handle = await watcherState.watch(["param_1"], (event) => {
    if (event.newValue === expected) resolveReceived?.();
  });
  let counter = 0;
  return {
    async once() {
      expected = ++counter;
      const received = new Promise((resolve) => {
        resolveReceived = resolve;
      });
      await writer.set("param_1", expected);
      await received;
    },
    async close() {
      await handle.close();
      await writer.close();
      await watcherState.close();
    },
  };
}

const directory = mkdtempSync(join(tmpdir(), "statebridge-bridged-redis-bench-"));
const redisPort = await freePort();
const redis = spawn(
  binary,
  [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--dir",
    directory,
    "--save",
    "",
    "--appendonly",
    "no",
  ],
  { stdio: "ignore" },
);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const raw = createClient({ url: redisUrl });
for (let attempt = 0; ; attempt++) {
  try {
    await raw.connect();
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const servers = [];
const rows = [];
const notes = { rounds: ROUNDS, redis: binary };
try {
  const memoryServer = await startServer("memory");
  servers.push(memoryServer);
  const serverA = await startServer(`${redisUrl}/0`);
  servers.push(serverA);
  const serverB = await startServer(`${redisUrl}/0`);
  servers.push(serverB);

  const stores = {
    memory: { provider: await preparedState(memoryServer.url) },
    redis: { provider: await preparedState(serverA.url) },
  };
  const watches = {
    // Writer and watcher on one memory-store server (the in-memory store has no second server).
    memory: await watchPair(memoryServer.url, memoryServer.url, "bench-watch-memory"),
    redis: await watchPair(serverA.url, serverB.url, "bench-watch-redis"),
  };
  const measurements = [
    "get",
    "set",
    "updateMany (100, atomic)",
    "get, 32 callers",
    "set, 32 callers",
    "watch",
  ];
  // The processes each measurement runs through, whose CPU per call is recorded.
  const processes = {
    memory: { server: memoryServer.child.pid },
    redis: { server: serverA.child.pid, redis: redis.pid },
  };
  const watchProcesses = {
    memory: processes.memory,
    redis: { serverA: serverA.child.pid, serverB: serverB.child.pid, redis: redis.pid },
  };
  const figures = {};
  for (const store of Object.keys(stores)) {
    figures[store] = Object.fromEntries(
      measurements.map((name) => [
        name,
        new Figures(name === "watch" ? watchProcesses[store] : processes[store]),
      ]),
    );
  }
  const rawFigures = { get: new Figures({ redis: redis.pid }), set: new Figures({ redis: redis.pid }) };
  await raw.set("floor", "0.5");

  // Warm both sides' code up before the first round is counted.
  for (const store of Object.keys(stores)) {
    const { provider } = stores[store];
    await sample(() => provider.get("param_50"), { samples: 1500, warmup: 0 });
    await sample((index) => provider.set("param_51", index), { samples: 1500, warmup: 0 });
    await sample(() => provider.updateMany(new Map(names.map((name) => [name, 1])), { atomic: true }), {
      samples: 100,
      warmup: 0,
    });
    await sample(() => watches[store].once(), { samples: 300, warmup: 0 });
  }

  for (let round = 0; round < ROUNDS; round++) {
    await rawFigures.get.sample(() => raw.get("floor"), { samples: 1000, warmup: 100 });
    await rawFigures.set.sample((index) => raw.set("floor", String(index)), { samples: 1000, warmup: 100 });
    // Alternate which store goes first, so that neither always follows the other's load.
    const order = round % 2 === 0 ? ["memory", "redis"] : ["redis", "memory"];
    for (const store of order) {
      const { provider } = stores[store];
      const results = figures[store];
      await results.get.sample(() => provider.get("param_50"), { samples: 800, warmup: 100 });
      await results.set.sample((index) => provider.set("param_51", round * 10_000 + index), {
        samples: 800,
        warmup: 100,
      });
      await results["updateMany (100, atomic)"].sample(
        (index) =>
          provider.updateMany(new Map(names.map((name) => [name, round * 10_000 + index])), {
            atomic: true,
          }),
        { samples: 150, warmup: 20 },
      );
      results["get, 32 callers"].addRate(
        await throughput((caller) => provider.get(names[caller % names.length])),
      );
      results["set, 32 callers"].addRate(
        await throughput((caller, index) => provider.set(names[caller % names.length], index)),
      );
      await results.watch.sample(() => watches[store].once(), { samples: 400, warmup: 40 });
    }
  }

  for (const name of ["get", "set"]) {
    const results = rawFigures[name];
    rows.push({
      name: `raw node-redis ${name.toUpperCase()} (floor)`,
      p50Ns: median(results.p50),
      p99Ns: median(results.p99),
      meanNs: Number.NaN,
      ...results.cpuFields(),
    });
  }
  const label = {
    watch: {
      memory: "watch: set → watcher, same memory-store server",
      redis: "watch: set through B → watcher on A (Redis store)",
    },
  };
  const ratios = {};
  for (const name of measurements) {
    for (const store of ["memory", "redis"]) {
      const results = figures[store][name];
      const rowName = label[name]?.[store] ?? `${name} (${store} store)`;
      if (results.rate.length > 0) {
        const rate = median(results.rate);
        rows.push({
          name: rowName,
          p50Ns: Number.NaN,
          p99Ns: Number.NaN,
          meanNs: 1e9 / rate,
          opsPerSecond: rate,
        });
      } else {
        rows.push({
          name: rowName,
          p50Ns: median(results.p50),
          p99Ns: median(results.p99),
          meanNs: Number.NaN,
          ...results.cpuFields(),
        });
      }
    }
    const memory = figures.memory[name];
    const onRedis = figures.redis[name];
    ratios[name] =
      memory.rate.length > 0
        ? { throughput: median(onRedis.rate) / median(memory.rate) }
        : { p50: median(onRedis.p50) / median(memory.p50), p99: median(onRedis.p99) / median(memory.p99) };
  }
  notes.ratiosRedisOverMemory = ratios;

  report("state-bridged-redis", rows, notes);
  console.log(`\nRedis store ÷ memory store (medians of ${ROUNDS} interleaved rounds):`);
  console.log("| measurement | p50 | p99 | throughput |");
  console.log("|---|---|---|---|");
  const ratio = (value) => (value === undefined ? "-" : `${value.toFixed(2)}×`);
  for (const name of measurements) {
    const { p50, p99, throughput: rate } = ratios[name];
    console.log(`| ${name} | ${ratio(p50)} | ${ratio(p99)} | ${ratio(rate)} |`);
  }
  const watchP50 = median(figures.redis.watch.p50);
  const goals = [
    ["get p50 within 1.5× of the memory store", ratios.get.p50 <= 1.5, ratio(ratios.get.p50)],
    ["set p50 within 1.5× of the memory store", ratios.set.p50 <= 1.5, ratio(ratios.set.p50)],
    ["cross-server watch p50 ≤ 1 ms", watchP50 <= 1_000_000, formatDuration(watchP50)],
  ];
  console.log("\nGoals (issue 11):");
  for (const [goal, met, figure] of goals) console.log(`- ${goal}: ${figure} — ${met ? "met" : "MISSED"}`);

  for (const watch of Object.values(watches)) await watch.close();
  for (const { provider } of Object.values(stores)) await provider.close();
} finally {
  for (const server of servers) await stopServer(server);
  await raw.destroy();
  redis.kill("SIGKILL");
  rmSync(directory, { recursive: true, force: true });
}
