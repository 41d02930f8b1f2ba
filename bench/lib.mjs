// Shared benchmark harness: sampling, percentiles, a printed table and JSON results under
// bench/results/. Every *.bench.mjs in packages/*/bench and apps/*/bench uses it.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const resultsDirectory = join(dirname(fileURLToPath(import.meta.url)), "results");

/**
 * Runs `operation` repeatedly and returns per-call durations in nanoseconds, sorted.
 * With `batch` > 1, each sample times `batch` calls and records their mean, so that
 * operations faster than the clock's own cost can be measured.
 */
export async function sample(operation, { samples = 1000, batch = 1, warmup = 100, async = true } = {}) {
  for (let index = 0; index < warmup; index++) {
    if (async) await operation(index);
    else operation(index);
  }
  const durations = new Float64Array(samples);
  let counter = 0;
  for (let sampleIndex = 0; sampleIndex < samples; sampleIndex++) {
    const start = process.hrtime.bigint();
    if (async) {
      for (let index = 0; index < batch; index++) await operation(counter++);
    } else {
      for (let index = 0; index < batch; index++) operation(counter++);
    }
    durations[sampleIndex] = Number(process.hrtime.bigint() - start) / batch;
  }
  return durations.sort();
}

/** The value at quantile q (0..1) of sorted samples. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const position = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[position];
}

/** A result row from sorted durations (ns). */
export function summarize(name, sorted, extra = {}) {
  let total = 0;
  for (const value of sorted) total += value;
  return {
    name,
    samples: sorted.length,
    p50Ns: quantile(sorted, 0.5),
    p99Ns: quantile(sorted, 0.99),
    meanNs: total / sorted.length,
    ...extra,
  };
}

/** Formats nanoseconds with a unit a reader takes in at a glance. */
export function formatDuration(nanoseconds) {
  if (!Number.isFinite(nanoseconds)) return "-";
  if (nanoseconds < 1_000) return `${nanoseconds.toFixed(0)} ns`;
  if (nanoseconds < 1_000_000) return `${(nanoseconds / 1_000).toFixed(2)} µs`;
  if (nanoseconds < 1_000_000_000) return `${(nanoseconds / 1_000_000).toFixed(2)} ms`;
  return `${(nanoseconds / 1_000_000_000).toFixed(2)} s`;
}

/**
 * Prints rows as a table and writes them to bench/results/<suite>.json with the machine's
 * description, so that figures can be compared run to run.
 */
export function report(suite, rows, notes = {}) {
  console.log(`\n## ${suite}`);
  console.log("| benchmark | p50 | p99 | mean | other |");
  console.log("|---|---|---|---|---|");
  for (const row of rows) {
    const { name, p50Ns, p99Ns, meanNs, samples: _samples, ...other } = row;
    const rest = Object.entries(other)
      .map(([key, value]) => `${key}=${typeof value === "number" ? Number(value.toFixed(2)) : value}`)
      .join(", ");
    console.log(
      `| ${name} | ${formatDuration(p50Ns)} | ${formatDuration(p99Ns)} | ${formatDuration(meanNs)} | ${rest} |`,
    );
  }
  mkdirSync(resultsDirectory, { recursive: true });
  const document = {
    suite,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    at: new Date().toISOString(),
    notes,
    rows,
  };
  writeFileSync(join(resultsDirectory, `${suite}.json`), `${JSON.stringify(document, null, 2)}\n`);
}
