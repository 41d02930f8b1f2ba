// LocalState benchmarks: the cost of each operation in process, watch latency from set() to
// the watcher's callback, and heap bytes per variable. Run from the root with
// `node bench/run.mjs state-local`, or `pnpm --filter @statebridge/state-local bench`.
import { createLocalState } from "@statebridge/state-local";
import { report, sample, summarize } from "../../../bench/lib.mjs";

const rows = [];

async function withVariables(count, type = "integer", initial = 0) {
  const provider = createLocalState();
  for (let index = 0; index < count; index++) await provider.register(`param_${index}`, type, initial);
  return provider;
}

// Reads: 1,000 variables, read one in the middle by name.
{
  const provider = await withVariables(1000);
  const durations = await sample(() => provider.get("param_500"), {
    samples: 10_000,
    batch: 200,
    warmup: 20_000,
  });
  rows.push(summarize("get (by name)", durations));
  const { id } = await provider.getVariable("param_500");
  rows.push(
    summarize(
      "get (by id)",
      await sample(() => provider.get(id), { samples: 10_000, batch: 200, warmup: 20_000 }),
    ),
  );
  const identifiers = Array.from({ length: 100 }, (_, index) => `param_${index * 10}`);
  rows.push(
    summarize(
      "getMany (100)",
      await sample(() => provider.getMany(identifiers), { samples: 5000, batch: 10, warmup: 2000 }),
    ),
  );
  await provider.close();
}

// Writes: set with and without compare-and-set, and batches of 100.
{
  const provider = await withVariables(1000, "float", 0);
  rows.push(
    summarize(
      "set",
      await sample((index) => provider.set("param_500", index), {
        samples: 10_000,
        batch: 100,
        warmup: 20_000,
      }),
    ),
  );
  let version = (await provider.getVariable("param_501")).version;
  rows.push(
    summarize(
      "set (expectedVersion)",
      await sample(
        async (index) => {
          version = await provider.set("param_501", index, { expectedVersion: version });
        },
        { samples: 10_000, batch: 100, warmup: 20_000 },
      ),
    ),
  );
  const updates = new Map(Array.from({ length: 100 }, (_, index) => [`param_${index}`, 0]));
  rows.push(
    summarize(
      "updateMany (100, atomic)",
      await sample(
        (round) => {
          for (const key of updates.keys()) updates.set(key, round);
          return provider.updateMany(updates, { atomic: true });
        },
        { samples: 3000, batch: 5, warmup: 500 },
      ),
    ),
  );
  await provider.close();
}

// register: a fresh name every call.
{
  const provider = createLocalState();
  let counter = 0;
  rows.push(
    summarize(
      "register",
      await sample(
        () => provider.register(`fresh_${counter++}`, "float", 0.5, { constraints: { min: 0, max: 1 } }),
        {
          samples: 2000,
          batch: 20,
          warmup: 2000,
        },
      ),
    ),
  );
  await provider.close();
}

// list of a 100-variable session.
{
  const provider = await withVariables(100);
  rows.push(
    summarize(
      "list (100 variables)",
      await sample(() => provider.list(), { samples: 5000, batch: 20, warmup: 2000 }),
    ),
  );
  rows.push(
    summarize(
      "list (100, pattern param_1*)",
      await sample(() => provider.list("param_1*"), { samples: 5000, batch: 20, warmup: 2000 }),
    ),
  );
  await provider.close();
}

// Watch latency: from calling set() to the watcher's callback running, one event at a time.
{
  const provider = await withVariables(10, "integer", 0);
  let arrived;
  let arrivedAt = 0n;
  await provider.watch(["param_5"], () => {
    arrivedAt = process.hrtime.bigint();
    arrived();
  });
  const samples = 20_000;
  const warmup = 2000;
  const durations = new Float64Array(samples);
  for (let index = 0; index < warmup + samples; index++) {
    const received = new Promise((resolve) => {
      arrived = resolve;
    });
    const start = process.hrtime.bigint();
    void provider.set("param_5", index);
    await received;
    if (index >= warmup) durations[index - warmup] = Number(arrivedAt - start);
  }
  durations.sort();
  rows.push(summarize("watch: set → callback", durations));
  await provider.close();
}

// Memory: heap bytes per small variable (integer, short name, no metadata) at 100,000.
let bytesPerVariable = Number.NaN;
if (typeof global.gc === "function") {
  const count = 100_000;
  global.gc();
  global.gc();
  const before = process.memoryUsage().heapUsed;
  const provider = createLocalState();
  for (let index = 0; index < count; index++) await provider.register(`param_${index}`, "integer", index);
  global.gc();
  global.gc();
  const after = process.memoryUsage().heapUsed;
  bytesPerVariable = (after - before) / count;
  rows.push({
    name: "memory at 100,000 variables",
    samples: 1,
    p50Ns: Number.NaN,
    p99Ns: Number.NaN,
    meanNs: Number.NaN,
    bytesPerVariable,
  });
  // Keep the provider alive until measured.
  if ((await provider.get("param_0")) !== 0) throw new Error("unexpected value");
  await provider.close();
} else {
  console.log("memory: run with --expose-gc to measure bytes per variable");
}

report("state-local", rows, {
  targets:
    "get p50 ≤ 100 ns, set p50 ≤ 1 µs, getMany(100) ≤ 10 µs, watch set→callback p50 ≤ 2 µs, ≤ 500 bytes/variable",
  note: "Async calls awaited one at a time; batched samples report the mean of each batch.",
});
