// BridgedState benchmarks: each operation's latency through a bridge-server running as a
// child process (a real socket, gRPC over HTTP/2 cleartext), throughput with 32 concurrent
// callers on one connection, and the server's resident memory holding 1,000 sessions of 100
// variables. For comparison, the same get through a plain connect-node client (connect's
// whole client pipeline) against the same server, and against a server whose direct gRPC path
// is off (connect's whole server pipeline) through BridgedState and through that plain client
// (connect on both sides). The get rows (sequential and 32 callers) and getMany(100) show each
// side's CPU per call, and the notes getMany(100) ÷ get (issue 14: at most 4). Run from the root with
// `node bench/run.mjs state-bridged`, or `pnpm --filter @statebridge/state-bridged bench`
// (both need the packages built).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { createBridgedState } from "@statebridge/state-bridged";
import { createExport, createVariableId } from "@statebridge/state-provider";
import { quantile, report, sample, summarize } from "../../../bench/lib.mjs";

const serverDirectory = dirname(
  createRequire(import.meta.url).resolve("@statebridge/bridge-server/package.json"),
);
const cli = join(serverDirectory, "dist", "cli.js");

/**
 * Starts a bridge-server in a child process: the CLI, or with `embedded` options a script
 * that embeds createBridgeServer with them (for options the CLI does not offer).
 */
async function startServer(embedded) {
  const argv =
    embedded === undefined
      ? [cli, "--port", "0", "--log-level", "warn"]
      : [
          "--input-type=module",
          "-e",
          `const { createBridgeServer } = await import(${JSON.stringify(pathToFileURL(join(serverDirectory, "dist", "index.js")).href)});
           const server = await createBridgeServer({ port: 0, ...${JSON.stringify(embedded)} });
           process.stdout.write(server.url + "\\n");
           process.on("SIGTERM", () => server.close().then(() => process.exit(0)));`,
        ];
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
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
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function residentBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match[1]) * 1024;
}

/** Runs `callers` loops of `operation` for `durationMs`; returns operations per second. */
async function throughput(operation, { callers = 32, durationMs = 3000 } = {}) {
  let operations = 0;
  const until = performance.now() + durationMs;
  const start = performance.now();
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

/** CPU time a process has used so far, in microseconds (from /proc: clock ticks of 10 ms). */
function processCpuMicroseconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Samples `operation` like `sample`, and also reports the CPU each call cost this process (the
 * client) and the server's process, so that the table shows which side a call's time goes to.
 * The warmup is long: until both sides' code is optimized, the CPU per call is much higher.
 */
async function sampleWithCpu(serverPid, operation, { samples, warmup }) {
  await sample(operation, { samples: warmup, warmup: 0 });
  const clientBefore = process.cpuUsage();
  const serverBefore = processCpuMicroseconds(serverPid);
  const sorted = await sample(operation, { samples, warmup: 0 });
  const client = process.cpuUsage(clientBefore);
  return {
    sorted,
    cpu: {
      clientCpuUsPerCall: (client.user + client.system) / samples,
      serverCpuUsPerCall: (processCpuMicroseconds(serverPid) - serverBefore) / samples,
    },
  };
}

/**
 * The near cache (`cache: true`): a cached get, timed in batches of 100 because it costs less
 * than the clock's resolution makes visible one call at a time, next to a fresh get through
 * the same provider; and the memory each cached variable costs the client (heap) and the
 * server (RSS: one watch each), with 5,000 variables cached.
 */
async function nearCacheRows(url, serverPid, sessionId) {
  const rows = [];
  const cached = await createBridgedState({ url, sessionId, cache: true });
  try {
    await cached.get("param_50");
    // Reads go to the server until the variable's watch has delivered its initial value.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sample(() => cached.get("param_50"), { samples: 2000, warmup: 0, batch: 10 });
    const clientBefore = process.cpuUsage();
    const sorted = await sample(() => cached.get("param_50"), { samples: 3000, warmup: 0, batch: 100 });
    const client = process.cpuUsage(clientBefore);
    rows.push(
      summarize("get, near cache (cache: true)", sorted, {
        clientCpuUsPerCall: (client.user + client.system) / (3000 * 100),
      }),
    );
    rows.push(
      summarize(
        "get, near cache provider, { fresh: true }",
        await sample(() => cached.get("param_50", { fresh: true }), { samples: 2000, warmup: 500 }),
      ),
    );
  } finally {
    await cached.close();
  }

  const count = 5_000;
  const many = await createBridgedState({ url, cache: { maxEntries: count } });
  try {
    for (let start = 0; start < count; start += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, index) => many.register(`cached_${start + index}`, "float", 0.5)),
      );
    }
    const settle = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      globalThis.gc?.();
      globalThis.gc?.();
    };
    await settle();
    const heapBefore = process.memoryUsage().heapUsed;
    const serverBefore = residentBytes(serverPid);
    for (let start = 0; start < count; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, index) => many.get(`cached_${start + index}`)));
    }
    await settle();
    const heapAfter = process.memoryUsage().heapUsed;
    const serverAfter = residentBytes(serverPid);
    rows.push({
      name: `memory per cached variable (${count.toLocaleString("en")} cached)`,
      p50Ns: Number.NaN,
      p99Ns: Number.NaN,
      meanNs: Number.NaN,
      clientHeapBytesPerVariable: (heapAfter - heapBefore) / count,
      serverRssBytesPerVariable: (serverAfter - serverBefore) / count,
    });
  } finally {
    await many.close();
  }
  return rows;
}

function throughputRow(name, rate, cpu = {}) {
  return { name, p50Ns: Number.NaN, p99Ns: Number.NaN, meanNs: 1e9 / rate, opsPerSecond: rate, ...cpu };
}

/**
 * {@link throughput}, with each side's CPU per operation: this process's (the client) from
 * process.cpuUsage(), the server child's from /proc, both over the operations counted.
 */
async function throughputWithCpu(serverPid, operation, options) {
  await throughput(operation, { ...options, durationMs: 500 });
  const clientBefore = process.cpuUsage();
  const serverBefore = processCpuMicroseconds(serverPid);
  let operations = 0;
  const rate = await throughput(async (caller, index) => {
    await operation(caller, index);
    operations++;
  }, options);
  const client = process.cpuUsage(clientBefore);
  return {
    rate,
    cpu: {
      clientCpuUsPerCall: (client.user + client.system) / operations,
      serverCpuUsPerCall: (processCpuMicroseconds(serverPid) - serverBefore) / operations,
    },
  };
}

const rows = [];
const notes = {};
const { child, url } = await startServer();
try {
  const provider = await createBridgedState({ url });
  const names = Array.from({ length: 100 }, (_, index) => `param_${index}`);
  for (const name of names) await provider.register(name, "float", 0);

  let getCpu;
  {
    const { sorted, cpu } = await sampleWithCpu(child.pid, () => provider.get("param_50"), {
      samples: 3000,
      warmup: 2000,
    });
    getCpu = cpu;
    rows.push(summarize("get", sorted, cpu));
  }
  rows.push(...(await nearCacheRows(url, child.pid, provider.sessionId)));
  rows.push(
    summarize(
      "set",
      await sample((index) => provider.set("param_51", index), { samples: 3000, warmup: 500 }),
    ),
  );
  let version = (await provider.getVariable("param_52")).version;
  rows.push(
    summarize(
      "set (expectedVersion)",
      await sample(
        async (index) => {
          version = await provider.set("param_52", index, { expectedVersion: version });
        },
        { samples: 2000, warmup: 200 },
      ),
    ),
  );
  {
    const { sorted, cpu } = await sampleWithCpu(child.pid, () => provider.getMany(names), {
      samples: 1000,
      warmup: 300,
    });
    const getP50 = rows.find((row) => row.name === "get").p50Ns;
    // Issue 14's goal: a getMany(100) costs at most 4 gets.
    notes.getMany100OverGetP50 = quantile(sorted, 0.5) / getP50;
    notes.getMany100OverGetServerCpu = cpu.serverCpuUsPerCall / getCpu.serverCpuUsPerCall;
    notes.getMany100OverGetClientCpu = cpu.clientCpuUsPerCall / getCpu.clientCpuUsPerCall;
    rows.push(summarize("getMany (100)", sorted, cpu));
  }
  rows.push(
    summarize(
      "updateMany (100, atomic)",
      await sample(
        (index) => provider.updateMany(new Map(names.map((name) => [name, index])), { atomic: true }),
        {
          samples: 1000,
          warmup: 100,
        },
      ),
    ),
  );

  {
    const { rate, cpu } = await throughputWithCpu(child.pid, (caller) =>
      provider.get(names[caller % names.length]),
    );
    rows.push(throughputRow("get, 32 concurrent callers", rate, cpu));
  }
  rows.push(
    throughputRow(
      "set, 32 concurrent callers",
      await throughput((caller, index) => provider.set(names[caller % names.length], index)),
    ),
  );

  // The same get through a plain connect-node gRPC client: connect's client pipeline.
  const connectSessions = new Http2SessionManager(url);
  const connectClient = createClient(
    BridgeService,
    createGrpcTransport({ baseUrl: url, sessionManager: connectSessions }),
  );
  const request = { sessionId: provider.sessionId, identifier: "param_50" };
  {
    const { sorted, cpu } = await sampleWithCpu(
      child.pid,
      () => connectClient.getVariable(request, { timeoutMs: 5_000 }),
      { samples: 2000, warmup: 2000 },
    );
    rows.push(summarize("get, plain connect-node client", sorted, cpu));
  }
  rows.push(
    throughputRow(
      "get, plain connect-node client, 32 concurrent callers",
      await throughput(() => connectClient.getVariable(request, { timeoutMs: 5_000 }), { durationMs: 2000 }),
    ),
  );
  connectSessions.abort();
  await provider.close();

  // Memory: 1,000 sessions of 100 float variables each, loaded by import (one call per
  // session) over one shared connection, 16 sessions at a time.
  const baseline = residentBytes(child.pid);
  const now = Date.now();
  const document = createExport({
    sessionId: "template",
    revision: 100,
    variables: names.map((name, index) => ({
      id: createVariableId(),
      name,
      type: "float",
      value: index / 100,
      constraints: {},
      metadata: { description: `parameter ${index}` },
      version: 0,
      createdAt: now,
      updatedAt: now,
      source: "bench",
    })),
  });
  const sessionManager = new Http2SessionManager(url);
  const shared = { transport: createGrpcTransport({ baseUrl: url, sessionManager }) };
  let loaded = 0;
  const loadStart = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (loaded < 1000) {
        loaded++;
        const session = await createBridgedState({ url, transport: shared.transport });
        await session.import(document);
        await session.close();
      }
    }),
  );
  const loadSeconds = (performance.now() - loadStart) / 1000;
  sessionManager.abort();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const loadedBytes = residentBytes(child.pid);
  notes.serverRssBaselineMiB = baseline / 2 ** 20;
  notes.serverRssWith1000SessionsOf100MiB = loadedBytes / 2 ** 20;
  rows.push({
    name: "server RSS, 1,000 sessions × 100 variables",
    p50Ns: Number.NaN,
    p99Ns: Number.NaN,
    meanNs: Number.NaN,
    rssMiB: loadedBytes / 2 ** 20,
    baselineMiB: baseline / 2 ** 20,
    bytesPerVariable: (loadedBytes - baseline) / 100_000,
    loadSeconds,
  });
} finally {
  await stopServer({ child });
}

// Against a server whose direct gRPC path is off (connect's server pipeline): BridgedState,
// and a plain connect-node client, which is connect on both sides.
const viaConnect = await startServer({ grpcFastPath: false });
try {
  const provider = await createBridgedState({ url: viaConnect.url });
  await provider.register("param_50", "float", 0);
  {
    const { sorted, cpu } = await sampleWithCpu(viaConnect.child.pid, () => provider.get("param_50"), {
      samples: 2000,
      warmup: 2000,
    });
    rows.push(summarize("get, server through connect (grpcFastPath: false)", sorted, cpu));
  }
  rows.push(
    throughputRow(
      "get, server through connect (grpcFastPath: false), 32 concurrent callers",
      await throughput(() => provider.get("param_50"), { durationMs: 2000 }),
    ),
  );
  const connectSessions = new Http2SessionManager(viaConnect.url);
  const connectClient = createClient(
    BridgeService,
    createGrpcTransport({ baseUrl: viaConnect.url, sessionManager: connectSessions }),
  );
  const request = { sessionId: provider.sessionId, identifier: "param_50" };
  {
    const { sorted, cpu } = await sampleWithCpu(
      viaConnect.child.pid,
      () => connectClient.getVariable(request, { timeoutMs: 5_000 }),
      { samples: 2000, warmup: 2000 },
    );
    rows.push(summarize("get, connect on both sides (plain client, grpcFastPath: false)", sorted, cpu));
  }
  rows.push(
    throughputRow(
      "get, connect on both sides, 32 concurrent callers",
      await throughput(() => connectClient.getVariable(request, { timeoutMs: 5_000 }), { durationMs: 2000 }),
    ),
  );
  connectSessions.abort();
  await provider.close();
} finally {
  await stopServer(viaConnect);
}

report("state-bridged", rows, notes);
