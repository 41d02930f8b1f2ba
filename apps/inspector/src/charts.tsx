import { formatNumber } from "./values.js";

const WIDTH = 160;
const HEIGHT = 36;

/** A line of numbers as a small SVG, labelled with its range for screen readers. */
export function Sparkline(props: { readonly values: ArrayLike<number>; readonly label: string }) {
  const finite = Array.from(props.values).filter(Number.isFinite);
  if (finite.length === 0) return <span>no finite values</span>;
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const span = max - min || 1;
  const step = finite.length > 1 ? WIDTH / (finite.length - 1) : 0;
  const points = finite
    .map(
      (value, index) =>
        `${(index * step).toFixed(1)},${(HEIGHT - 2 - ((value - min) / span) * (HEIGHT - 4)).toFixed(1)}`,
    )
    .join(" ");
  return (
    <svg
      class="spark"
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`${props.label}: ${finite.length} values from ${formatNumber(min)} to ${formatNumber(max)}`}
    >
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

/** The values seen since the page opened, as a line with its latest value and range. */
export function HistoryChart(props: {
  readonly name: string;
  readonly history: readonly [number, number][];
}) {
  const values = props.history.map(([, value]) => value);
  return (
    <figure class="history">
      <figcaption>
        {props.name}{" "}
        <span class="muted">
          ({values.length} {values.length === 1 ? "value" : "values"} since the page opened)
        </span>
      </figcaption>
      <Sparkline values={values} label={`history of ${props.name}`} />
    </figure>
  );
}

const MAX_CELLS = 32;

/**
 * A tensor: its shape, a summary (min, mean, max), and for one or two dimensions a heat map of
 * at most 32×32 cells (larger tensors are summarized only).
 */
export function TensorView(props: { readonly shape: readonly number[]; readonly data: Float64Array }) {
  const { shape, data } = props;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const value of data) {
    if (value < min) min = value;
    if (value > max) max = value;
    sum += value;
  }
  const rows = shape.length === 2 ? (shape[0] ?? 0) : 1;
  const columns = shape.length === 2 ? (shape[1] ?? 0) : shape.length === 1 ? (shape[0] ?? 0) : 0;
  const summary =
    data.length === 0
      ? "empty"
      : `min ${formatNumber(min)}, mean ${formatNumber(sum / data.length)}, max ${formatNumber(max)}`;
  const drawable = shape.length <= 2 && rows <= MAX_CELLS && columns <= MAX_CELLS && data.length > 0;
  const cell = 8;
  const span = max - min || 1;
  return (
    <div class="tensor">
      <span>
        shape [{shape.join(", ")}] · {summary}
      </span>
      {drawable ? (
        <svg
          width={columns * cell}
          height={rows * cell}
          role="img"
          aria-label={`heat map of a ${shape.join("×")} tensor, ${summary}`}
        >
          {Array.from(data, (value, index) => (
            <rect
              key={index}
              x={(index % columns) * cell}
              y={Math.floor(index / columns) * cell}
              width={cell}
              height={cell}
              fill={`hsl(220 70% ${(90 - ((value - min) / span) * 60).toFixed(0)}%)`}
            />
          ))}
        </svg>
      ) : null}
    </div>
  );
}
