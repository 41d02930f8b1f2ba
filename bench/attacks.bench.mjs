// `pnpm bench:attacks`: each attack of issue 9 (apps/bridge-server/test/support-attacks.mjs, the
// ones test/attacks.test.ts runs) against a bridge-server child process, for
// STATEBRIDGE_ATTACK_SECONDS (default 30) each, while a bystander on its own connection pings
// every 10 ms: its Ping latency p50/p99 during the attack (goal: p99 under 50 ms) and the
// server's peak resident memory. `node bench/attacks.bench.mjs glob bomb` runs the attacks whose
// names contain any of the words. Needs the bridge-server built.
import {
  ATTACK_SECONDS,
  RSS_BOUND_BYTES,
  runAttack,
} from "../apps/bridge-server/test/support-attack-runner.mjs";
import { ATTACKS, NO_ATTACK } from "../apps/bridge-server/test/support-attacks.mjs";
import { report, summarize } from "./lib.mjs";

const GOAL_P99_NS = 50 * 1_000_000;
const MiB = 1024 * 1024;
const filters = process.argv.slice(2);
const chosen = [NO_ATTACK, ...ATTACKS].filter(
  (attack) => filters.length === 0 || filters.some((filter) => attack.name.includes(filter)),
);

const rows = [];
for (const attack of chosen) {
  process.stderr.write(`${attack.name}: ${ATTACK_SECONDS} s…\n`);
  const result = await runAttack(attack, { seconds: ATTACK_SECONDS });
  const sorted = Float64Array.from(result.bystander.latenciesNs).sort();
  const row = summarize(attack.name, sorted, {
    peakRssMiB: result.peakRssBytes / MiB,
    pings: result.bystander.answered,
    failedPings: result.bystander.failures.length,
    failedNewConnections: result.bystander.freshFailures.length,
    serverDied: result.serverExit !== undefined,
  });
  rows.push({
    ...row,
    rssUnderBound: result.peakRssBytes < RSS_BOUND_BYTES,
    goalMet: row.p99Ns < GOAL_P99_NS && row.failedPings === 0,
  });
}
report("attacks", rows, {
  secondsPerAttack: ATTACK_SECONDS,
  goal: "bystander Ping p99 under 50 ms during every attack, no Ping failed (goalMet)",
  rssBoundMiB: RSS_BOUND_BYTES / MiB,
  bystander:
    "one Ping every 10 ms on its own HTTP/2 connection (and one on a new connection every 500 ms, counted in failedNewConnections), 10 s deadline",
});
