// `pnpm bench:peers`: the same work against statebridge (a bridge-server child process on the
// memory store, and on the Redis store) and against the stores people would pick instead —
// Redis 7.0, NATS JetStream KV 2.9, etcd 3.4 — each in its own process on loopback, in rounds
// that interleave the systems phase by phase. Prints medians of the rounds with statebridge ÷
// peer ratios and writes bench/results/peers-<date>.json. Not part of `pnpm test`.
//
//   node --expose-gc bench/peers/peers.bench.mjs [--quick] [--rounds N] [--fan-out 1000,10000] [--skip-fan-out]
import { spawnSync } from "node:child_process";
import { fanOut, median, p50, throughput, watchLatency } from "./measure.mjs";
import { writeResults } from "./report.mjs";
import {
  BRIDGE_SERVER_CLI,
  installPeers,
  startBridgeServer,
  startEtcd,
  startNats,
  startRedis,
} from "./servers.mjs";
import { etcdSystem, natsSystem, redisSystem, statebridgeSystem } from "./systems.mjs";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const roundsFlag = argv.indexOf("--rounds");
const rounds = roundsFlag >= 0 ? Number(argv[roundsFlag + 1]) : quick ? 1 : 5;
const skipFanOut = argv.includes("--skip-fan-out");
const counts = quick
  ? {
      samples: 100,
      warmup: 50,
      batchSamples: 20,
      throughputMs: 300,
      watchSamples: 20,
      fanOut: [100],
      updates: 1,
    }
  : {
      samples: 1000,
      warmup: 300,
      batchSamples: 150,
      throughputMs: 2000,
      watchSamples: 200,
      fanOut: [1000, 10_000],
      updates: 3,
    };

const fanOutFlag = argv.indexOf("--fan-out");
if (fanOutFlag >= 0) counts.fanOut = argv[fanOutFlag + 1].split(",").map(Number);

const missing = installPeers();
const bridgedStateModule = import.meta.resolve("@statebridge/state-bridged");
const { createBridgedState } = await import(bridgedStateModule);
const help = spawnSync(process.execPath, [BRIDGE_SERVER_CLI, "--help"], { encoding: "utf8" }).stdout;

const servers = [];
const systems = [];
// Interrupted, the benchmark still stops the servers it started.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => shutDown().finally(() => process.exit(130)));
}
try {
  const redis = missing.includes("redis-server") ? undefined : await startRedis();
  if (redis) servers.push(redis);
  const bridge = await startBridgeServer();
  servers.push(bridge);
  systems.push({
    key: "statebridge",
    serverPids: [bridge.pid],
    ops: await statebridgeSystem(createBridgedState, bridge.url),
    watchSetup: (ops) => ({
      kind: "statebridge",
      address: bridge.url,
      sessionId: ops.sessionId,
      bridgedStateModule,
    }),
  });
  if (redis && help.includes("redis://")) {
    const onRedis = await startBridgeServer(["--store", `${redis.url}/0`]);
    servers.push(onRedis);
    systems.push({
      key: "statebridge-redis",
      serverPids: [onRedis.pid, redis.pid],
      ops: await statebridgeSystem(createBridgedState, onRedis.url),
      watchSetup: (ops) => ({
        kind: "statebridge",
        address: onRedis.url,
        sessionId: ops.sessionId,
        bridgedStateModule,
      }),
    });
  }
  if (redis) {
    systems.push({
      key: "redis",
      serverPids: [redis.pid],
      ops: await redisSystem(redis.url),
      watchSetup: (_ops, writer) => ({ kind: writer, address: redis.url }),
    });
  }
  if (!missing.includes("nats-server")) {
    let nats = await startNats();
    servers.push(nats);
    const entry = {
      key: "nats",
      serverPids: [nats.pid],
      ops: await natsSystem(nats.url),
      watchSetup: () => ({ kind: "nats", address: nats.url }),
      // nats-server 2.9.10 answers puts to a watched key ~4× slower (put → watch p50) after
      // 10,000 watchers' consumers were created and deleted: a new server after the fan-out
      // rows, so that the next round's rows do not carry this round's.
      async renew() {
        await entry.ops.close();
        await nats.stop();
        servers.splice(servers.indexOf(nats), 1);
        nats = await startNats();
        servers.push(nats);
        entry.serverPids = [nats.pid];
        entry.ops = await natsSystem(nats.url);
      },
    };
    systems.push(entry);
  }
  if (!missing.includes("etcd-server")) {
    const etcd = await startEtcd();
    servers.push(etcd);
    systems.push({
      key: "etcd",
      serverPids: [etcd.pid],
      ops: await etcdSystem(etcd.url),
      watchSetup: () => ({ kind: "etcd", address: etcd.url }),
    });
  }

  /** figures[figure][system] = one value per round. */
  const figures = new Map();
  const record = (figure, system, value) => {
    if (!figures.has(figure)) figures.set(figure, new Map());
    const perSystem = figures.get(figure);
    if (!perSystem.has(system)) perSystem.set(system, []);
    perSystem.get(system).push(value);
  };

  for (let round = 0; round < rounds; round++) {
    // Each round starts with a different system, so that none always runs first.
    const order = systems.map((_, index) => systems[(index + round) % systems.length]);
    const warmup = round === 0 ? counts.warmup * 3 : counts.warmup;
    const options = { samples: counts.samples, warmup };
    const batchOptions = { samples: counts.batchSamples, warmup: Math.ceil(warmup / 10) };
    console.log(`round ${round + 1} of ${rounds}`);
    for (const [figure, operationName, sampleOptions] of [
      ["get", "get", options],
      ["set", "set", options],
      ["compareAndSet", "compareAndSet", options],
      ["getMany", "getMany", batchOptions],
      ["updateMany", "updateMany", batchOptions],
    ]) {
      for (const system of order) {
        progress(figure, system.key);
        const operation = system.ops[operationName];
        if (operation !== undefined) record(figure, system.key, await p50(operation, sampleOptions));
      }
    }
    for (const system of order) {
      progress("throughput", system.key);
      const result = await throughput(system.ops.throughputGet, system.serverPids, {
        durationMs: counts.throughputMs,
      });
      record("throughput", system.key, result.opsPerSecond);
      record("serverCpu", system.key, result.serverCpuUs * 1000);
      record("clientCpu", system.key, result.clientCpuUs * 1000);
    }
    for (const system of order) {
      for (const [writer, write] of Object.entries(system.ops.writers)) {
        const figure = writer === "streams" ? "watchStreams" : "watch";
        progress(figure, `${system.key} ${writer}`);
        record(
          figure,
          system.key,
          await watchLatency(system.watchSetup(system.ops, writer), write, {
            samples: counts.watchSamples,
            warmup: Math.ceil(counts.watchSamples / 10),
          }),
        );
        await system.ops.afterWatchers?.();
      }
    }
    if (!skipFanOut) {
      for (const watchers of counts.fanOut) {
        for (const system of order) {
          const [writer, write] = Object.entries(system.ops.writers)[0];
          progress(`fan-out ${watchers}`, system.key);
          const setup = system.watchSetup(system.ops, writer);
          const options = { watchers, updates: counts.updates };
          const result = await attempt(() => fanOut(setup, write, system.serverPids, options));
          await system.ops.afterWatchers?.();
          record(`fanOut${watchers}`, system.key, result?.timeNs);
          record(`fanOutMemory${watchers}`, system.key, result?.bytesPerWatcher);
          if (system.key !== "redis") continue;
          // node-redis shares one subscription among a connection's listeners: Redis also
          // with one connection, and so one server subscription, per watcher.
          progress(`fan-out ${watchers}`, "redis, a connection per watcher");
          const perWatcher = await attempt(() =>
            fanOut(setup, write, system.serverPids, { ...options, perConnection: 1 }),
          );
          record(`fanOut${watchers}`, "redis-connections", perWatcher?.timeNs);
          record(`fanOutMemory${watchers}`, "redis-connections", perWatcher?.bytesPerWatcher);
        }
      }
    }
    if (!skipFanOut) for (const system of systems) await system.renew?.();
    for (const [system, values] of Object.entries(runPython(servers, redis) ?? {})) {
      record("pythonGet", system, values.get);
      record("pythonSet", system, values.set);
    }
  }

  const medians = new Map(
    [...figures].map(([figure, perSystem]) => [
      figure,
      new Map([...perSystem].map(([system, values]) => [system, median(values)])),
    ]),
  );
  writeResults({ medians, figures, rounds, quick, missing, systems: systems.map((system) => system.key) });
} finally {
  await shutDown();
}

/** Closes the clients, then stops the servers, whatever failed before. */
async function shutDown() {
  for (const system of systems.splice(0)) {
    try {
      await system.ops.close();
    } catch {}
  }
  for (const server of servers.splice(0).reverse()) await server.stop();
}

/**
 * Runs a measurement that a limit of the machine may stop (a fan-out's connections): its
 * failure is printed and its cells stay empty, and the run goes on.
 */
async function attempt(measurement) {
  try {
    return await measurement();
  } catch (error) {
    console.log(`    failed: ${error.message}`);
    return undefined;
  }
}

/** Says on stderr what is being measured, so that a long run shows where it is. */
function progress(figure, system) {
  process.stderr.write(`  ${figure}: ${system}\n`);
}

/** The Python row for one round, or undefined when /usr/bin/python3 cannot run it. */
function runPython(servers, redis) {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import grpc"], { stdio: "ignore" });
  if (probe.status !== 0) {
    console.log("python row skipped: /usr/bin/python3 cannot import grpc (scripts/python-setup.sh)");
    return undefined;
  }
  const bridge = servers.find((server) => server.name === "bridge-server");
  const args = [
    new URL("./python-peers.py", import.meta.url).pathname,
    "--statebridge",
    new URL(bridge.url).host,
    "--samples",
    String(counts.samples),
  ];
  if (redis && !missing.includes("python3-redis")) args.push("--redis", `127.0.0.1:${redis.port}`);
  const result = spawnSync("/usr/bin/python3", args, { encoding: "utf8" });
  if (result.status !== 0) {
    console.log(`python row failed: ${result.stderr}`);
    return undefined;
  }
  return JSON.parse(result.stdout.trim().split("\n").at(-1));
}
