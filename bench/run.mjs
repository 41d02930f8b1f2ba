// `pnpm bench`: runs every benchmark file of the workspace, one at a time (they measure
// latency and must not share the machine with each other), in a fixed order.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const only = process.argv.slice(2);
const files = [];
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group)).sort()) {
    const directory = join(root, group, name, "bench");
    if (!existsSync(directory)) continue;
    for (const file of readdirSync(directory).sort()) {
      if (!file.endsWith(".bench.mjs")) continue;
      const path = join(directory, file);
      if (only.length === 0 || only.some((filter) => path.includes(filter))) files.push(path);
    }
  }
}
let failed = 0;
for (const file of files) {
  console.log(`\n# ${file.slice(root.length)}`);
  const result = spawnSync(process.execPath, ["--expose-gc", file], { stdio: "inherit", cwd: root });
  if (result.status !== 0) {
    failed++;
    console.error(`benchmark ${file} failed with status ${result.status}`);
  }
}
// The Python client's benchmark, when Debian's grpcio is installed (scripts/python-setup.sh).
const pythonBench = join(root, "clients", "python", "bench.py");
const wantsPython = only.length === 0 || only.some((filter) => pythonBench.includes(filter));
if (wantsPython && existsSync(pythonBench)) {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import grpc"], { stdio: "ignore" });
  if (probe.status === 0) {
    console.log(`\n# ${pythonBench.slice(root.length)}`);
    const result = spawnSync("/usr/bin/python3", [pythonBench], { stdio: "inherit", cwd: root });
    if (result.status !== 0) {
      failed++;
      console.error(`benchmark ${pythonBench} failed with status ${result.status}`);
    }
  } else {
    console.log(
      "\n# clients/python/bench.py skipped: /usr/bin/python3 cannot import grpc (run scripts/python-setup.sh)",
    );
  }
}
process.exit(failed === 0 ? 0 : 1);
