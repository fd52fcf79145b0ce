// The printed report: Markdown tables of the per-cell medians and spreads, the named ratios, and the
// HSM ceiling, so a run can be pasted into docs/benchmark.md as it is.
import type { RawRate } from './hsm-ceiling.js';
import type { RatioDefinition, RatioResult } from './ratios.js';
import type { BenchResult, HsmCeiling } from './results.js';
import type { Summary } from './stats.js';
import type { Variant } from './variants.js';

const fixed = (value: number | null, digits: number) =>
  value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

/** A Markdown table, the first `left` columns left-aligned and the others right-aligned. */
export function markdownTable(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((cell, i) => (i < left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ') +
    ' |';
  const rule =
    '|' +
    widths.map((w, i) => (i < left ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|') +
    '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const between = (low: number, high: number) =>
  Number.isFinite(low) && Number.isFinite(high) ? `${low.toFixed(2)}–${high.toFixed(2)}` : '-';

export function formatResults(results: readonly BenchResult[]): string {
  const header = [
    'row',
    'conc',
    'req/s',
    'IQR %',
    'range %',
    'p50 ms',
    'p99 ms',
    'errors',
    'srv CPU µs/req',
    'rps ratio',
    'p50 ratio',
    'cpu ratio',
    'floor ratio',
  ];
  const rows = results.map((r) => [
    r.row,
    String(r.concurrency),
    fixed(r.requestsPerSecond, 0),
    fixed(r.spread.requestsPerSecond.iqrPercent, 0),
    fixed(r.spread.requestsPerSecond.rangePercent, 0),
    fixed(r.p50Ms, 2),
    fixed(r.p99Ms, 2),
    String(r.errors),
    fixed(r.serverCpuUsPerRequest, 0),
    fixed(r.throughputRatio, 2),
    fixed(r.latencyRatio, 2),
    fixed(r.cpuRatio, 2),
    fixed(r.floorRatio, 2),
  ]);
  return markdownTable(header, rows);
}

const summaryCells = (s: Summary) => [
  fixed(s.median, 2),
  between(s.q1, s.q3),
  between(s.min, s.max),
  fixed(s.iqrPercent, 0),
];

export function formatRatios(ratios: readonly RatioResult[]): string {
  return markdownTable(
    ['ratio', 'conc', 'median', 'quartiles', 'min–max', 'IQR %'],
    ratios.map((r) => [r.name, String(r.concurrency), ...summaryCells(r.summary)]),
  );
}

/** One line per named ratio and per variant: what it compares. */
export function formatLegend(definitions: readonly RatioDefinition[], variants: readonly Variant[]): string {
  const named = (kind: (k: RatioDefinition['kind']) => boolean) =>
    definitions.filter((d) => kind(d.kind)).map((d) => `  ${d.name}: ${d.meaning}`);
  return [
    ...named((kind) => kind !== 'variant' && kind !== 'variants'),
    ...variants.map(
      (v) =>
        `  @${v.name} (a second ${v.reference} server, ${v.operations.join(', ')}` +
        `${v.switchesOff ? '; read as reference ÷ variant' : ''}): ${v.description}`,
    ),
    ...named((kind) => kind === 'variants'),
  ].join('\n');
}

const modeLabel = (rate: RawRate) =>
  rate.mode === 'sync' ? 'sync, 1 session' : `async, ${rate.inFlight} in flight`;

export function formatRawRate(rate: RawRate): string {
  return (
    `  raw ${rate.call.padEnd(7)} ${modeLabel(rate).padEnd(20)} ${rate.opsPerSecond.toFixed(0).padStart(7)} ops/s  ` +
    `CPU ${rate.cpuUsPerOp.toFixed(1)} µs/op`
  );
}

export function formatCeiling(ceiling: HsmCeiling): string {
  const raw = markdownTable(
    ['raw call', 'mode', 'ops/s', 'µs/op', 'CPU µs/op'],
    ceiling.raw.map((r) => [
      r.call,
      modeLabel(r),
      fixed(r.opsPerSecond, 0),
      fixed(1e6 / r.opsPerSecond, 1),
      fixed(r.cpuUsPerOp, 1),
    ]),
    2,
  );
  const asyncInFlight = ceiling.raw.find((r) => r.mode === 'async')?.inFlight;
  const ratios = markdownTable(
    [
      'operation',
      'conc',
      'req/s',
      'raw sync ops/s',
      'ratio to sync',
      asyncInFlight ? `raw async×${asyncInFlight} ops/s` : 'raw async ops/s',
      'ratio to async',
    ],
    ceiling.ratios.map((r) => [
      r.operation,
      String(r.concurrency),
      fixed(r.requestsPerSecond, 0),
      fixed(r.rawSyncOpsPerSecond, 0),
      fixed(r.syncRatio, 2),
      fixed(r.rawAsyncOpsPerSecond, 0),
      fixed(r.asyncRatio, 2),
    ]),
  );
  return [
    `HSM ceiling: raw PKCS#11 calls on the same token (${ceiling.token}), pkcs11js in the benchmark ` +
      `process before the rounds, while nothing else runs, ${ceiling.durationMs} ms each`,
    ...ceiling.raw.filter((r) => r.mode === 'sync').map((r) => `  ${r.call}: ${r.description}`),
    '',
    raw,
    '',
    ratios,
  ].join('\n');
}
