import type { Metric, Registry } from "prom-client";

// Metrics kept in plain numbers on the hot path and turned into prom-client's samples at
// scrape time: prom-client's own counters and histograms hash their labels on every increment,
// which costs a unary call several microseconds.

/** One sample, as prom-client's registry writes it. */
interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels?: Readonly<Record<string, string>>;
  readonly metricName?: string;
}

/** A counter or gauge whose samples `read` makes at scrape time. */
export function registerCollected(
  registry: Registry,
  name: string,
  help: string,
  type: "counter" | "gauge",
  read: () => Iterable<{ readonly labels: Readonly<Record<string, string>>; readonly value: number }>,
): void {
  register(registry, name, help, type, () => [...read()]);
}

/** One series of a {@link FastHistogram}: its labels bound, observed without a lookup. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** A histogram of series bound once, each observed in a few operations on plain numbers. */
export interface FastHistogram {
  /** The series of `labels` (create it once and keep it). */
  series(labels: Readonly<Record<string, string>>): HistogramSeries;
}

class Series implements HistogramSeries {
  /** Observations per bucket (not cumulative); the last counts those above every bound. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > (bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.count++;
    this.sum += value;
  }
}

/** Registers a histogram with the upper `bounds` of its buckets, in Prometheus's layout. */
export function registerFastHistogram(
  registry: Registry,
  name: string,
  help: string,
  bounds: readonly number[],
): FastHistogram {
  const all: Series[] = [];
  register(registry, name, help, "histogram", () => {
    const samples: Sample[] = [];
    for (const series of all) {
      if (series.count === 0) continue;
      let cumulative = 0;
      bounds.forEach((bound, index) => {
        cumulative += series.counts[index] as number;
        samples.push({
          labels: { le: bound },
          sharedLabels: series.labels,
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      });
      samples.push(
        {
          labels: { le: "+Inf" },
          sharedLabels: series.labels,
          value: series.count,
          metricName: `${name}_bucket`,
        },
        { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${name}_count` },
      );
    }
    return samples;
  });
  return {
    series(labels) {
      const series = new Series(labels, bounds);
      all.push(series);
      return series;
    },
  };
}

function register(
  registry: Registry,
  name: string,
  help: string,
  type: "counter" | "gauge" | "histogram",
  read: () => Sample[],
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, aggregator: "sum", values: read() }),
    reset() {},
  };
  // The registry writes any metric that has a name, help, type and get(): prom-client's own
  // classes are only the usual ones.
  registry.registerMetric(metric as unknown as Metric);
}
