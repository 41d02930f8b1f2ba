// What the server's telemetry costs a call: BridgedState get and set p50 against a
// bridge-server with metrics, tracing (through @opentelemetry/api, no SDK registered) and the
// access log (at info, so not written) on, and against one with `telemetry: false`. Each
// server runs in a child process; the two are sampled in short alternating blocks, pooled per
// server, so that the drift of a busy machine falls on both alike, over several pairs of fresh
// processes. Run from the root with
// `node bench/run.mjs telemetry-cost` (the packages built).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBridgedState } from "@statebridge/state-bridged";
import { report, sample, summarize } from "../../../bench/lib.mjs";

/** Pairs of server processes; blocks per server, pair and operation; calls per block. */
const PAIRS = 4;
const BLOCKS = 30;
const BLOCK_CALLS = 100;

const serverIndex = pathToFileURL(
  join(
    dirname(createRequire(import.meta.url).resolve("@statebridge/bridge-server/package.json")),
    "dist",
    "index.js",
  ),
).href;

/** A bridge-server embedded in a child process with `options`; resolves with its URLs. */
async function startServer(options) {
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { createBridgeServer } = await import(${JSON.stringify(serverIndex)});
       const server = await createBridgeServer({ port: 0, ...${JSON.stringify(options)} });
       process.stdout.write(JSON.stringify({ url: server.url, metricsUrl: server.metricsUrl }) + "\\n");
       process.on("SIGTERM", () => server.close().then(() => process.exit(0)));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const urls = await new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code}: ${output}`)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const line = output.split("\n")[0];
      if (output.includes("\n")) resolve(JSON.parse(line));
    });
  });
  child.stdout.resume();
  return { child, ...urls };
}

async function stopServer({ child }) {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** CPU time a process has used so far, in microseconds (from /proc: clock ticks of 10 ms). */
function processCpuMicroseconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Sorted durations of every block, pooled. */
function pooled(blocks) {
  const all = new Float64Array(blocks.reduce((total, block) => total + block.length, 0));
  let offset = 0;
  for (const block of blocks) {
    all.set(block, offset);
    offset += block.length;
  }
  return all.sort();
}

const blocks = { get: { off: [], on: [] }, set: { off: [], on: [] } };
// The servers' CPU per call: what a busy machine's scheduling does not blur.
const serverCpu = { get: { off: 0, on: 0 }, set: { off: 0, on: 0 } };
const notes = { getCallsCountedOn: 0 };

/** One pair of fresh server processes, sampled in alternating blocks. */
async function measurePair() {
  const servers = {
    off: await startServer({ telemetry: false }),
    on: await startServer({ metricsPort: 0 }),
  };
  try {
    const providers = {};
    for (const [name, server] of Object.entries(servers)) {
      providers[name] = await createBridgedState({ url: server.url });
      await providers[name].register("x", "float", 0);
      // Both sides optimized before the first block.
      await sample(() => providers[name].get("x"), { samples: 3000, warmup: 0 });
      await sample((index) => providers[name].set("x", index), { samples: 3000, warmup: 0 });
    }
    const timedBlock = async (operation, name, run) => {
      const before = processCpuMicroseconds(servers[name].child.pid);
      blocks[operation][name].push(await run());
      serverCpu[operation][name] += processCpuMicroseconds(servers[name].child.pid) - before;
    };
    for (let block = 0; block < BLOCKS; block++) {
      const order = block % 2 === 0 ? ["off", "on"] : ["on", "off"];
      for (const name of order) {
        const provider = providers[name];
        await timedBlock("get", name, () =>
          sample(() => provider.get("x"), { samples: BLOCK_CALLS, warmup: 0 }),
        );
        await timedBlock("set", name, () =>
          sample((index) => provider.set("x", index), { samples: BLOCK_CALLS, warmup: 0 }),
        );
      }
    }
    // The "on" server counted every call.
    const text = await (await fetch(servers.on.metricsUrl)).text();
    const counted =
      /statebridge_rpc_requests_total\{[^}]*method="GetVariable",code="OK",path="direct"\} (\d+)/.exec(text);
    notes.getCallsCountedOn += Number(counted?.[1] ?? 0);
    for (const provider of Object.values(providers)) await provider.close();
  } finally {
    await Promise.all(Object.values(servers).map(stopServer));
  }
}

// Fresh processes per pair: one process's luck (its JIT, its place in memory and on the CPUs)
// is not taken for the cost of telemetry.
for (let pair = 0; pair < PAIRS; pair++) await measurePair();
const rows = [];
for (const operation of ["get", "set"]) {
  const calls = PAIRS * BLOCKS * BLOCK_CALLS;
  const off = summarize(`${operation}, telemetry off`, pooled(blocks[operation].off), {
    serverCpuUsPerCall: serverCpu[operation].off / calls,
  });
  const on = summarize(`${operation}, metrics + tracing (no SDK) on`, pooled(blocks[operation].on), {
    serverCpuUsPerCall: serverCpu[operation].on / calls,
  });
  const overhead = ((on.p50Ns - off.p50Ns) / off.p50Ns) * 100;
  rows.push(off, { ...on, p50VersusOffPercent: overhead });
  notes[`${operation}P50OverheadPercent`] = overhead;
}

report("telemetry-cost", rows, notes);
