// Summarizes a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, as a
// share of the time the process was busy (idle excluded). Used for the before/after profile
// tops of issue 14 §2, e.g. with the server child started as
//   node --cpu-prof --cpu-prof-dir=/tmp/prof apps/bridge-server/dist/cli.js --port 0
// and a 32-caller get load against it, then
//   node bench/cpu-profile-top.mjs /tmp/prof/CPU.*.cpuprofile 25
import { readFileSync } from "node:fs";

const [file, count = "25"] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node bench/cpu-profile-top.mjs <file.cpuprofile> [rows]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));
const timeBySample = new Map();
for (let index = 0; index < profile.samples.length; index++) {
  const node = profile.samples[index];
  timeBySample.set(node, (timeBySample.get(node) ?? 0) + (profile.timeDeltas[index] ?? 0));
}
const selfTime = new Map();
let idle = 0;
let total = 0;
for (const node of profile.nodes) {
  const time = timeBySample.get(node.id) ?? 0;
  total += time;
  const frame = node.callFrame;
  if (frame.functionName === "(idle)") {
    idle += time;
    continue;
  }
  const where = frame.url
    .replace(/.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "")
    .replace(/^file:\/\/.*?\/(apps|packages)\//, "$1/");
  const key = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
  selfTime.set(key, (selfTime.get(key) ?? 0) + time);
}
const busy = total - idle;
console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms`);
for (const [key, time] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${((100 * time) / busy).toFixed(1).padStart(5)} %  ${key}`);
}
