// Summaries of per-round values: the median the bench reports, and how far the rounds spread
// around it. A median of interleaved rounds shrugs off the bursts of other work that move single
// runs on a shared machine; the spread says how much to trust it.

export interface Summary {
  /** Rounds with a finite value (a round that served nothing has no latency). */
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between the nearest values). */
  q1: number;
  q3: number;
  /** (q3 - q1) / median, in %: the spread of the middle half of the rounds. */
  iqrPercent: number;
  /** (max - min) / median, in %: the spread of every round, outliers included. */
  rangePercent: number;
}

/** The value at fraction `p` (0..1) of ascending `sorted`, interpolated between neighbours. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const below = Math.floor(at);
  const above = Math.ceil(at);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (at - below);
}

export function median(values: readonly number[]): number {
  return summarize(values).median;
}

/** Median, quartiles, extremes and spreads of the finite values; all NaN when there are none. */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const middle = quantile(sorted, 0.5);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const min = sorted[0] ?? Number.NaN;
  const max = sorted[sorted.length - 1] ?? Number.NaN;
  const percentOfMedian = (width: number) => (middle === 0 ? Number.NaN : (100 * width) / Math.abs(middle));
  return {
    n: sorted.length,
    median: middle,
    min,
    max,
    q1,
    q3,
    iqrPercent: percentOfMedian(q3 - q1),
    rangePercent: percentOfMedian(max - min),
  };
}
