// From the samples of every round to the reported figures: per cell the medians and spreads of the
// per-round values, the per-round ratios to the baseline and the AEAD floor, and the named ratios.
import type { RawCall, RawMode, RawRate } from './hsm-ceiling.js';
import type { RoundSample } from './measure.js';
import {
  AEAD_OPERATIONS,
  perRoundRatios,
  summarizeRatio,
  type RatioDefinition,
  type RatioResult,
} from './ratios.js';
import { rowLabel, type Operation, type Scenario } from './scenarios.js';
import { summarize, type Summary } from './stats.js';

/** Samples by row label, then concurrency, one per round in round order. */
export class SampleTable {
  private readonly samples = new Map<string, Map<number, RoundSample[]>>();

  add(row: string, concurrency: number, sample: RoundSample): void {
    let byConcurrency = this.samples.get(row);
    if (!byConcurrency) this.samples.set(row, (byConcurrency = new Map()));
    const rounds = byConcurrency.get(concurrency);
    if (rounds) rounds.push(sample);
    else byConcurrency.set(concurrency, [sample]);
  }

  rounds(row: string, concurrency: number): RoundSample[] {
    return this.samples.get(row)?.get(concurrency) ?? [];
  }

  /** One value per round (null where the round has none, e.g. no /proc for the CPU time). */
  values(row: string, concurrency: number, pick: (s: RoundSample) => number | null): (number | null)[] {
    return this.rounds(row, concurrency).map(pick);
  }

  errors(row: string, concurrency: number): number {
    return this.rounds(row, concurrency).reduce((sum, s) => sum + s.errors, 0);
  }
}

export interface BenchResult {
  operation: Operation;
  /** The variant server the row ran on (bench/variants.ts), or null for the reference servers. */
  variant: string | null;
  /** `operation`, or `operation@variant`. */
  row: string;
  server: string;
  description: string;
  concurrency: number;
  rounds: number;
  /** Requests and errors summed over the rounds. */
  requests: number;
  errors: number;
  firstError?: string;
  /** Medians of the per-round values. */
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuUsPerRequest: number | null;
  clientCpuUsPerRequest: number;
  /** Medians of per-round ratios: requestsPerSecond / the same round's baseline requestsPerSecond. */
  throughputRatio: number | null;
  /** p50Ms / the same round's baseline p50Ms. */
  latencyRatio: number | null;
  /** The round's baseline server CPU per request / this row's (1 = as cheap as the baseline). */
  cpuRatio: number | null;
  /** For AES-GCM operations: requestsPerSecond / the same round's aead-floor requestsPerSecond. */
  floorRatio: number | null;
  spread: {
    requestsPerSecond: Summary;
    p50Ms: Summary;
    p99Ms: Summary;
    throughputRatio: Summary | null;
    floorRatio: Summary | null;
  };
  perRound: RoundSample[];
}

const finiteOrNull = (value: number) => (Number.isFinite(value) ? value : null);
const nonNull = (values: (number | null)[]) => values.map((v) => v ?? Number.NaN);

export function buildResults(
  scenarios: readonly Scenario[],
  concurrencies: readonly number[],
  samples: SampleTable,
): BenchResult[] {
  const rows = new Set(scenarios.map(rowLabel));
  return scenarios.flatMap((scenario) =>
    // A row that does not run at a concurrency (a variant's `concurrencies`) has no result there.
    concurrencies
      .filter((concurrency) => samples.rounds(rowLabel(scenario), concurrency).length > 0)
      .map((concurrency): BenchResult => {
        const row = rowLabel(scenario);
        const rounds = samples.rounds(row, concurrency);
        const value = (pick: (s: RoundSample) => number | null) => samples.values(row, concurrency, pick);
        const baseline = (pick: (s: RoundSample) => number | null) =>
          samples.values('baseline', concurrency, pick);
        const rps = (s: RoundSample) => s.requestsPerSecond;
        const p50 = (s: RoundSample) => s.p50Ms;
        const cpu = (s: RoundSample) => s.serverCpuUsPerRequest;
        const ratioOf = (numerator: (number | null)[], denominator: (number | null)[]) =>
          summarize(perRoundRatios(numerator, denominator));
        const throughput = rows.has('baseline') ? ratioOf(value(rps), baseline(rps)) : null;
        const floor =
          rows.has('aead-floor') && AEAD_OPERATIONS.includes(scenario.operation)
            ? ratioOf(value(rps), samples.values('aead-floor', concurrency, rps))
            : null;
        const latency = rows.has('baseline') ? ratioOf(value(p50), baseline(p50)) : null;
        const cpuRatio = rows.has('baseline') ? ratioOf(baseline(cpu), value(cpu)) : null;
        const median = (pick: (s: RoundSample) => number | null) => summarize(nonNull(value(pick))).median;
        const firstError = rounds.find((s) => s.firstError)?.firstError;
        return {
          operation: scenario.operation,
          variant: scenario.variant ?? null,
          row,
          server: scenario.target.name,
          description: scenario.description,
          concurrency,
          rounds: rounds.length,
          requests: rounds.reduce((sum, s) => sum + s.requests, 0),
          errors: samples.errors(row, concurrency),
          ...(firstError ? { firstError } : {}),
          requestsPerSecond: median(rps),
          p50Ms: median(p50),
          p90Ms: median((s) => s.p90Ms),
          p99Ms: median((s) => s.p99Ms),
          maxMs: median((s) => s.maxMs),
          serverCpuUsPerRequest: finiteOrNull(median(cpu)),
          clientCpuUsPerRequest: median((s) => s.clientCpuUsPerRequest),
          throughputRatio: throughput ? finiteOrNull(throughput.median) : null,
          latencyRatio: latency ? finiteOrNull(latency.median) : null,
          cpuRatio: cpuRatio ? finiteOrNull(cpuRatio.median) : null,
          floorRatio: floor ? finiteOrNull(floor.median) : null,
          spread: {
            requestsPerSecond: summarize(nonNull(value(rps))),
            p50Ms: summarize(nonNull(value(p50))),
            p99Ms: summarize(nonNull(value((s) => s.p99Ms))),
            throughputRatio: throughput,
            floorRatio: floor,
          },
          perRound: rounds,
        };
      }),
  );
}

/** Every named ratio at every concurrency where both its rows ran, from req/s round by round. */
export function buildRatios(
  definitions: readonly RatioDefinition[],
  concurrencies: readonly number[],
  samples: SampleTable,
): RatioResult[] {
  const rps = (s: RoundSample) => s.requestsPerSecond;
  const ran = (row: string, concurrency: number) => samples.rounds(row, concurrency).length > 0;
  return definitions.flatMap((definition) =>
    concurrencies
      .filter((c) => ran(definition.numerator, c) && ran(definition.denominator, c))
      .map((concurrency) =>
        summarizeRatio(
          definition,
          concurrency,
          samples.values(definition.numerator, concurrency, rps),
          samples.values(definition.denominator, concurrency, rps),
        ),
      ),
  );
}

/** The HSM rows divided by the raw PKCS#11 rate of the same token and call. */
export interface HsmCeilingRatio {
  operation: Operation;
  concurrency: number;
  /** Median over the rounds. */
  requestsPerSecond: number;
  rawCall: RawCall;
  rawSyncOpsPerSecond: number | null;
  /** requestsPerSecond / rawSyncOpsPerSecond. */
  syncRatio: number | null;
  rawAsyncOpsPerSecond: number | null;
  /** requestsPerSecond / rawAsyncOpsPerSecond. */
  asyncRatio: number | null;
}

export interface HsmCeiling {
  token: string;
  module: string;
  durationMs: number;
  warmupMs: number;
  raw: (RawRate & { description: string })[];
  ratios: HsmCeilingRatio[];
}

export const RAW_CALL_OF: Partial<Record<Operation, RawCall>> = {
  'hsm-encrypt': 'encrypt',
  'hsm-sign': 'sign',
};

/** The reference HSM rows (not the variants') over the raw rates measured before the rounds. */
export function ceilingRatios(results: readonly BenchResult[], raw: readonly RawRate[]): HsmCeilingRatio[] {
  return results.flatMap((r) => {
    const call = RAW_CALL_OF[r.operation];
    if (!call || r.variant) return [];
    const rate = (mode: RawMode) => raw.find((x) => x.call === call && x.mode === mode)?.opsPerSecond ?? null;
    const ratio = (ops: number | null) => (ops ? r.requestsPerSecond / ops : null);
    const sync = rate('sync');
    const asynchronous = rate('async');
    return [
      {
        operation: r.operation,
        concurrency: r.concurrency,
        requestsPerSecond: r.requestsPerSecond,
        rawCall: call,
        rawSyncOpsPerSecond: sync,
        syncRatio: ratio(sync),
        rawAsyncOpsPerSecond: asynchronous,
        asyncRatio: ratio(asynchronous),
      },
    ];
  });
}
