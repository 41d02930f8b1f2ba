// The watch rows of `pnpm bench:peers` alone, for working on watch latency and fan-out:
// set → callback in another process (statebridge's BridgedState against Redis SET+PUBLISH to a
// SUBSCRIBE), and one update reaching N watchers in one watcher process (100 per connection,
// as bench/peers does), in interleaved rounds, with medians and statebridge ÷ Redis ratios. The
// issue's goals: a latency ratio ≤ 1.5 and a fan-out ratio ≤ 1.
//
//   node --expose-gc apps/bridge-server/bench/watch-peers.bench.mjs [--rounds 3] [--samples 300]
//     [--fan-out 10000] [--profile <dir>]
//
// --profile writes CPU profiles of the bridge-server and of statebridge's watcher processes,
// each covering only the measured changes (not the setup of the watches nor their closing).

import { quantile, sample } from "../../../bench/lib.mjs";
import { median, startWatchers } from "../../../bench/peers/measure.mjs";
import { processCpuMicroseconds, startBridgeServer, startRedis } from "../../../bench/peers/servers.mjs";
import { redisSystem, statebridgeSystem } from "../../../bench/peers/systems.mjs";

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : fallback;
};
const rounds = Number(flag("--rounds", "3"));
const samples = Number(flag("--samples", "300"));
const fanOutCounts = flag("--fan-out", "10000").split(",").filter(Boolean).map(Number);
const profile = flag("--profile", undefined);
const updates = profile === undefined ? 10 : 20;

const bridgedStateModule = new URL("../../../packages/state-bridged/dist/index.js", import.meta.url).href;
const { createBridgedState } = await import(bridgedStateModule);

/** Runs `start` with the profiling preload in the environment of the processes it starts. */
async function profiled(start) {
  if (profile === undefined) return start();
  const previous = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${previous ?? ""} --import=${new URL("./cpu-profile.mjs", import.meta.url).href}`;
  process.env.STATEBRIDGE_CPU_PROFILE_DIR = profile;
  try {
    return await start();
  } finally {
    if (previous === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = previous;
    delete process.env.STATEBRIDGE_CPU_PROFILE_DIR;
  }
}

/**
 * Times `count` changes reaching every watcher (their median), and takes the CPU per change of
 * the server process and of the watcher process, which a busy machine disturbs less than time;
 * profiles the changes with --profile.
 */
async function measure(system, watchers, count) {
  const pids = [system.serverPid, watchers.pid];
  const profiling = profile !== undefined && system.key === "statebridge";
  const toggle = () => {
    if (profiling) for (const pid of pids) process.kill(pid, "SIGUSR2");
  };
  toggle();
  const cpuBefore = pids.map(processCpuMicroseconds);
  const durations = [];
  for (let index = 0; index < count; index++) durations.push(await watchers.reach(system.write));
  const [serverCpuUs, watcherCpuUs] = pids.map(
    (pid, index) => (processCpuMicroseconds(pid) - cpuBefore[index]) / count,
  );
  toggle();
  // The profiles are written when the processes handle the signal, before they are closed.
  if (profiling) await new Promise((resolve) => setTimeout(resolve, 500));
  durations.sort((left, right) => left - right);
  return { timeNs: quantile(durations, 0.5), serverCpuUs, watcherCpuUs };
}

async function watchLatency(system, round) {
  const watchers = await profiled(() => startWatchers({ ...system.setup, watchers: 1, connections: 1 }));
  try {
    // Warm enough for the JIT to have optimized both processes' paths (a fresh watcher process
    // each round; the server's and the writer's code were warmed by the writes before).
    for (let index = 0; index < (round === 0 ? 1_000 : 300); index++) await watchers.reach(system.write);
    return (await measure(system, watchers, samples)).timeNs;
  } finally {
    await watchers.close();
  }
}

async function fanOut(system, count) {
  const connections = Math.ceil(count / 100);
  const watchers = await profiled(() => startWatchers({ ...system.setup, watchers: count, connections }));
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await watchers.reach(system.write);
    return await measure(system, watchers, updates);
  } finally {
    await watchers.close();
  }
}

const redis = await startRedis();
const bridge = await profiled(() => startBridgeServer());
const systems = [];
try {
  const statebridge = await statebridgeSystem(createBridgedState, bridge.url);
  systems.push({
    key: "statebridge",
    serverPid: bridge.pid,
    ops: statebridge,
    setup: { kind: "statebridge", address: bridge.url, sessionId: statebridge.sessionId, bridgedStateModule },
    write: statebridge.writers.watch,
  });
  const redisOps = await redisSystem(redis.url);
  systems.push({
    key: "redis",
    serverPid: redis.pid,
    ops: redisOps,
    setup: { kind: "pub/sub", address: redis.url },
    write: redisOps.writers["pub/sub"],
  });

  const figures = new Map();
  const record = (figure, system, value) => {
    const key = `${figure}|${system}`;
    if (!figures.has(key)) figures.set(key, []);
    figures.get(key).push(value);
  };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      // The write alone (statebridge: a set; Redis: MULTI SET PUBLISH), part of every watch time.
      const writes = await sample(system.write, { samples, warmup: round === 0 ? 2_000 : 300 });
      record("write", system.key, quantile(writes, 0.5));
    }
    for (const system of order) {
      const value = await watchLatency(system, round);
      record("watch", system.key, value);
      process.stderr.write(`round ${round + 1} watch ${system.key}: ${(value / 1000).toFixed(0)} µs\n`);
    }
    for (const count of fanOutCounts) {
      for (const system of order) {
        const { timeNs, serverCpuUs, watcherCpuUs } = await fanOut(system, count);
        record(`fanOut${count}`, system.key, timeNs);
        record(`fanOut${count} server CPU`, system.key, serverCpuUs * 1000);
        record(`fanOut${count} watchers' CPU`, system.key, watcherCpuUs * 1000);
        process.stderr.write(
          `round ${round + 1} fan-out ${count} ${system.key}: ${(timeNs / 1e6).toFixed(1)} ms ` +
            `(CPU: server ${(serverCpuUs / 1000).toFixed(1)} ms, watchers ${(watcherCpuUs / 1000).toFixed(1)} ms)\n`,
        );
      }
    }
  }
  console.log("figure (medians)                   statebridge       Redis   ratio");
  const perFanOut = fanOutCounts.flatMap((count) =>
    ["", " server CPU", " watchers' CPU"].map((suffix) => `fanOut${count}${suffix}`),
  );
  for (const figure of ["write", "watch", ...perFanOut]) {
    const ours = median(figures.get(`${figure}|statebridge`));
    const theirs = median(figures.get(`${figure}|redis`));
    const [unit, label, digits] = figure.startsWith("fanOut") ? [1e6, "ms", 1] : [1000, "µs", 0];
    console.log(
      `${figure.padEnd(32)} ${(ours / unit).toFixed(digits).padStart(9)} ${label} ` +
        `${(theirs / unit).toFixed(digits).padStart(7)} ${label} ${(ours / theirs).toFixed(2).padStart(7)}`,
    );
  }
} finally {
  for (const system of systems) await system.ops.close().catch(() => {});
  await bridge.stop();
  await redis.stop();
}
