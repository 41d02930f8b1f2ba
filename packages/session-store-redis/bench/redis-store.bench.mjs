// The Redis SessionStore against its floor, in one run: raw node-redis GET and SET on the same
// redis-server (what any Redis-backed store pays at least), then the store's getVariable, set
// and updateMany(100, atomic), a change from one store reaching a watcher on another store (as
// two bridge-servers on one Redis), and the in-memory store's get and set for comparison.
// Starts Debian's redis-server on a free loopback port (persistence off). Run from the root
// with `node bench/run.mjs session-store-redis`, or `pnpm --filter @statebridge/session-store-redis bench`.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSessionStore } from "@statebridge/session-store";
import { createRedisSessionStore } from "@statebridge/session-store-redis";
import { createClient } from "redis";
import { report, sample, summarize } from "../../../bench/lib.mjs";

const binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((path) => existsSync(path));
if (binary === undefined) {
  console.log("skipped: needs redis-server (run scripts/redis-setup.sh)");
  process.exit(0);
}
const port = await new Promise((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port: free } = server.address();
    server.close(() => resolve(free));
  });
});
const directory = mkdtempSync(join(tmpdir(), "statebridge-redis-bench-"));
const redis = spawn(
  binary,
  ["--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no"],
  { stdio: "ignore" },
);
const url = `redis://127.0.0.1:${port}`;
const raw = createClient({ url });
for (let attempt = 0; ; attempt++) {
  try {
    await raw.connect();
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rows = [];
const options = { samples: 3000, batch: 10, warmup: 2000 };
try {
  await raw.set("floor", "0.5");
  rows.push(summarize("raw node-redis GET (floor)", await sample(() => raw.get("floor"), options)));
  rows.push(
    summarize(
      "raw node-redis SET (floor)",
      await sample((index) => raw.set("floor", String(index)), options),
    ),
  );

  const store = await createRedisSessionStore({ url, keyPrefix: "bench" });
  await store.initializeSession("s");
  for (let index = 0; index < 100; index++) await store.register("s", `param_${index}`, "float", 0);
  rows.push(
    summarize("redis store getVariable", await sample(() => store.getVariable("s", "param_50"), options)),
  );
  rows.push(
    summarize("redis store set", await sample((index) => store.set("s", "param_50", index), options)),
  );
  const updates = new Map(Array.from({ length: 100 }, (_, index) => [`param_${index}`, 0]));
  rows.push(
    summarize(
      "redis store updateMany (100, atomic)",
      await sample(
        (round) => {
          for (const key of updates.keys()) updates.set(key, round);
          return store.updateMany("s", updates, { atomic: true });
        },
        { samples: 500, batch: 2, warmup: 100 },
      ),
    ),
  );

  // A 1,000,000-element tensor: what a set costs, and what a GET by another client waits
  // meanwhile (the script copies the 8 MB value; Redis serves nobody else while it runs).
  const data = Array.from({ length: 1_000_000 }, (_, index) => index);
  await store.register("s", "tensor", "tensor", { shape: [1000, 1000], data });
  rows.push(
    summarize(
      "redis store set of a 1,000,000-element tensor",
      await sample(() => store.set("s", "tensor", { shape: [1000, 1000], data }), { samples: 20, warmup: 3 }),
    ),
  );
  {
    const probe = createClient({ url });
    await probe.connect();
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 10; round++) await store.set("s", "tensor", { shape: [1000, 1000], data });
      writing = false;
    })();
    const waits = [];
    while (writing) {
      const start = process.hrtime.bigint();
      await probe.get("floor");
      waits.push(Number(process.hrtime.bigint() - start));
    }
    await writer;
    await probe.destroy();
    rows.push(
      summarize("raw GET while 1,000,000-element tensors are written", Float64Array.from(waits).sort()),
    );
  }

  // Watch latency across stores: set through `store`, received by a watcher on `other`.
  const other = await createRedisSessionStore({ url, keyPrefix: "bench" });
  let resolveEvent;
  await other.watch("s", ["param_1"], {
    onEvents: () => resolveEvent?.(),
    onEnd: () => {},
  });
  rows.push(
    summarize(
      "redis set → watcher on another store",
      await sample(
        async (index) => {
          const received = new Promise((resolve) => {
            resolveEvent = resolve;
          });
          await store.set("s", "param_1", index);
          await received;
        },
        { samples: 1000, batch: 1, warmup: 200 },
      ),
    ),
  );
  await other.close();
  await store.close();

  const memory = createSessionStore();
  await memory.initializeSession("s");
  for (let index = 0; index < 100; index++) await memory.register("s", `param_${index}`, "float", 0);
  rows.push(
    summarize("memory store getVariable", await sample(() => memory.getVariable("s", "param_50"), options)),
  );
  rows.push(
    summarize("memory store set", await sample((index) => memory.set("s", "param_50", index), options)),
  );
  await memory.close();
} finally {
  await raw.destroy();
  redis.kill("SIGKILL");
  rmSync(directory, { recursive: true, force: true });
}
report("session-store-redis", rows);
