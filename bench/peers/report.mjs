// The peer benchmark's table and its JSON under bench/results/peers-<date>.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { formatDuration } from "../lib.mjs";

const RESULTS = fileURLToPath(new URL("../results/", import.meta.url));

/** Column headings of the systems, in table order. */
const COLUMNS = [
  ["statebridge", "statebridge"],
  ["statebridge-redis", "statebridge, Redis store"],
  ["redis", "Redis 7.0"],
  ["nats", "NATS KV 2.9"],
  ["etcd", "etcd 3.4"],
];
/** The peers statebridge (memory store) is divided by. */
const PEERS = ["redis", "nats", "etcd"];

/**
 * The rows: the figure each system's cell shows (`redis` may name another figure of Redis's
 * own), its unit, and what the figure is for systems whose counterpart differs.
 */
const ROWS = [
  { label: "get p50", figure: "get", unit: "ns" },
  { label: "set p50", figure: "set", unit: "ns" },
  {
    label: "compare-and-set p50 (Redis: Lua; NATS: update; etcd: txn on mod_revision)",
    figure: "compareAndSet",
    unit: "ns",
  },
  {
    label: "getMany(100) p50 (Redis: MGET; NATS: 100 concurrent gets; etcd: prefix range)",
    figure: "getMany",
    unit: "ns",
  },
  {
    label: "updateMany(100, atomic) p50 (Redis: MULTI; etcd: txn; NATS: none)",
    figure: "updateMany",
    unit: "ns",
  },
  { label: "32 callers, get ops/s", figure: "throughput", unit: "ops" },
  { label: "server CPU per get (32 callers)", figure: "serverCpu", unit: "ns" },
  { label: "client CPU per get (32 callers)", figure: "clientCpu", unit: "ns" },
  {
    label: "set → callback in another process p50 (Redis: SET+PUBLISH in MULTI, pub/sub)",
    figure: "watch",
    unit: "ns",
  },
  {
    label: "set → callback in another process p50 (Redis: XADD, XREAD BLOCK)",
    figure: "watch",
    redis: "watchStreams",
    unit: "ns",
  },
  ...[100, 1000, 10_000].flatMap((watchers) => {
    const count = watchers.toLocaleString("en-US");
    return [
      {
        label: `one update → ${count} watchers (Redis: 100 listeners per connection)`,
        figure: `fanOut${watchers}`,
        unit: "ns",
      },
      {
        label: `one update → ${count} watchers (Redis: a connection per watcher)`,
        figure: `fanOut${watchers}`,
        redis: "redis-connections",
        unit: "ns",
      },
      {
        label: `server memory per watcher, ${count} watchers (Redis: 100 per connection)`,
        figure: `fanOutMemory${watchers}`,
        unit: "bytes",
      },
      {
        label: `server memory per watcher, ${count} watchers (Redis: a connection each)`,
        figure: `fanOutMemory${watchers}`,
        redis: "redis-connections",
        unit: "bytes",
      },
    ];
  }),
  { label: "Python get p50 (Redis: redis-py)", figure: "pythonGet", unit: "ns" },
  { label: "Python set p50 (Redis: redis-py)", figure: "pythonSet", unit: "ns" },
];

function format(value, unit) {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (unit === "ops") return Math.round(value).toLocaleString("en-US");
  // Below 0: the server gave back more memory meanwhile than the watchers took (RSS noise).
  if (unit === "bytes") return value < 0 ? "≈ 0 (noise)" : `${(value / 1024).toFixed(1)} KiB`;
  return formatDuration(value);
}

function cell(medians, row, system) {
  if (system !== "redis" || row.redis === undefined) return medians.get(row.figure)?.get(system);
  // Redis's own variant: another figure, or the same figure measured another way.
  return medians.get(row.redis)?.get("redis") ?? medians.get(row.figure)?.get(row.redis);
}

function version(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim().split("\n")[0] : undefined;
}

/** Prints the table of medians with statebridge ÷ peer ratios, and writes the JSON. */
export function writeResults({ medians, figures, rounds, quick, missing, systems }) {
  const columns = COLUMNS.filter(([key]) => systems.includes(key));
  const peers = PEERS.filter((key) => systems.includes(key));
  const heading = [
    "figure",
    ...columns.map(([, title]) => title),
    ...peers.map((key) => `statebridge ÷ ${COLUMNS.find(([column]) => column === key)[1]}`),
  ];
  console.log(`\n## peers (medians of ${rounds} interleaved round${rounds === 1 ? "" : "s"})`);
  console.log(`| ${heading.join(" | ")} |`);
  console.log(`|${heading.map(() => "---").join("|")}|`);
  const rows = [];
  for (const row of ROWS) {
    const values = Object.fromEntries(columns.map(([key]) => [key, cell(medians, row, key)]));
    if (Object.values(values).every((value) => value === undefined)) continue;
    const ratios = Object.fromEntries(
      peers.map((key) => {
        // No ratio of a figure lost in noise (a memory growth below zero) on either side.
        const ratio =
          values.statebridge > 0 && values[key] > 0 ? values.statebridge / values[key] : Number.NaN;
        return [key, Number.isFinite(ratio) ? ratio : undefined];
      }),
    );
    rows.push({ label: row.label, figure: row.figure, unit: row.unit, values, ratios });
    console.log(
      `| ${[
        row.label,
        ...columns.map(([key]) => format(values[key], row.unit)),
        ...peers.map((key) => (ratios[key] === undefined ? "–" : `${ratios[key].toFixed(2)}×`)),
      ].join(" | ")} |`,
    );
  }
  if (missing.length > 0) console.log(`\nskipped for want of: ${missing.join(", ")}`);
  const at = new Date();
  const document = {
    suite: "peers",
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cores: availableParallelism(),
    loadAverage: loadavg(),
    at: at.toISOString(),
    rounds,
    quick,
    missing,
    versions: {
      redis: version("redis-server", ["--version"]),
      nats: version("nats-server", ["--version"]),
      etcd: version("etcd", ["--version"]),
    },
    notes: {
      units: "ns for times and CPU, operations per second for throughput, bytes for memory",
      ratios: "statebridge (memory store) ÷ peer of the same figure: below 1 is faster for times",
      watchers: "100 watchers per connection; the server RSS growth once all watch, per watcher",
      storage: "Redis without persistence, NATS KV in memory storage, etcd's data directory on tmpfs",
    },
    rows,
    perRound: Object.fromEntries(
      [...figures].map(([figure, perSystem]) => [figure, Object.fromEntries(perSystem)]),
    ),
  };
  mkdirSync(RESULTS, { recursive: true });
  const path = `${RESULTS}peers-${at.toISOString().slice(0, 10)}${quick ? "-quick" : ""}.json`;
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`\nwritten to ${path}`);
}
