// The cost of LocalState's telemetry: get and set with nobody subscribed to the
// `statebridge:operation` tracing channel, and with a subscriber, in alternating rounds of one
// run so that both see the same machine. Run from the root with `node bench/run.mjs telemetry`.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createLocalState } from "@statebridge/state-local";
import { quantile, report, sample } from "../../../bench/lib.mjs";

const ROUNDS = 9;
const ASYNC_END = "tracing:statebridge:operation:asyncEnd";
let received = 0;
const subscriber = () => {
  received++;
};

const provider = createLocalState();
for (let index = 0; index < 1000; index++) await provider.register(`param_${index}`, "float", 0);

const cases = {
  get: () => provider.get("param_500"),
  set: (index) => provider.set("param_501", index),
};
const options = { samples: 2000, batch: 200, warmup: 20_000 };
/** p50 of each round, per case and mode. */
const p50s = new Map();
function record(name, sorted) {
  const list = p50s.get(name) ?? [];
  list.push(quantile(sorted, 0.5));
  p50s.set(name, list);
}

// Round 0 is a warm-up, not recorded: the first samples run before the harness's call sites
// have seen every case and mode, and would flatter whichever mode came first.
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, operation] of Object.entries(cases)) {
    const quiet = await sample(operation, options);
    subscribe(ASYNC_END, subscriber);
    const listened = await sample(operation, options);
    unsubscribe(ASYNC_END, subscriber);
    if (round === 0) continue;
    record(`${name}, no subscriber`, quiet);
    record(`${name}, a subscriber`, listened);
  }
}
await provider.close();

const rows = [];
for (const [name, values] of p50s) {
  const sorted = Float64Array.from(values).sort();
  rows.push({
    name: `LocalState ${name}`,
    samples: ROUNDS * options.samples,
    p50Ns: quantile(sorted, 0.5),
    p99Ns: Number.NaN,
    meanNs: Number.NaN,
    roundsP50Ns: values.map((value) => Math.round(value)).join("/"),
  });
}
if (received === 0)
  console.log("note: no telemetry event reached the subscriber (LocalState without telemetry)");
report("state-local-telemetry", rows, {
  note: `p50 is the median over ${ROUNDS} alternating rounds of each round's p50; each sample is the mean of ${options.batch} awaited calls. The subscriber listens on ${ASYNC_END}.`,
});
