// Preloaded with `--import` (NODE_OPTIONS does not take --cpu-prof) by watch-peers.bench.mjs
// --profile: SIGUSR2 starts profiling this process, the next SIGUSR2 writes what was sampled
// since into $STATEBRIDGE_CPU_PROFILE_DIR/<script>-<pid>-<n>.cpuprofile.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const directory = process.env.STATEBRIDGE_CPU_PROFILE_DIR;
if (directory !== undefined) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 100 });
  let running = false;
  let written = 0;
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true;
      session.post("Profiler.start");
      return;
    }
    running = false;
    session.post("Profiler.stop", (error, result) => {
      if (error) return;
      const script = process.argv[1]?.split("/").at(-1) ?? "node";
      written += 1;
      writeFileSync(
        join(directory, `${script}-${process.pid}-${written}.cpuprofile`),
        JSON.stringify(result.profile),
      );
    });
  });
}
