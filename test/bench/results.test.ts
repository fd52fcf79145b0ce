import { describe, expect, it } from 'vitest';
import type { RoundSample } from '../../bench/measure.js';
import type { BenchProcess } from '../../bench/processes.js';
import { SampleTable, buildRatios, buildResults } from '../../bench/results.js';
import type { Operation, Scenario } from '../../bench/scenarios.js';

const sample = (requestsPerSecond: number, p50Ms = 1, errors = 0): RoundSample => ({
  requests: requestsPerSecond,
  errors,
  requestsPerSecond,
  p50Ms,
  p90Ms: p50Ms,
  p99Ms: p50Ms,
  maxMs: p50Ms,
  serverCpuUsPerRequest: 1e6 / requestsPerSecond,
  clientCpuUsPerRequest: 10,
});

const scenario = (operation: Operation, variant?: string): Scenario => ({
  operation,
  ...(variant ? { variant } : {}),
  description: operation,
  target: { name: variant ? `keyhaven@${variant}` : 'keyhaven' } as BenchProcess,
  method: 'POST',
  path: '/',
  headers: {},
  bodies: [],
  expectStatus: 200,
  expectFields: [],
});

describe('bench results', () => {
  it('reports medians of the rounds and ratios taken within each round', () => {
    const samples = new SampleTable();
    // Round 2 runs on a busy machine: every server is half as fast.
    const rounds: Record<string, number[]> = {
      baseline: [30000, 15000, 31000],
      'aead-floor': [18000, 9000, 17000],
      encrypt: [12000, 6000, 11900],
    };
    for (const [row, values] of Object.entries(rounds))
      for (const v of values) samples.add(row, 16, sample(v));
    const [, , encrypt] = buildResults(
      [scenario('baseline'), scenario('aead-floor'), scenario('encrypt')],
      [16],
      samples,
    );
    expect(encrypt!.requestsPerSecond).toBe(11900);
    expect(encrypt!.spread.requestsPerSecond.rangePercent).toBeCloseTo((100 * 6000) / 11900);
    // Per-round floor ratios 0.667, 0.667, 0.7: the slow round does not pull the ratio down.
    expect(encrypt!.floorRatio).toBeCloseTo(2 / 3);
    expect(encrypt!.throughputRatio).toBeCloseTo(0.4);
    expect(encrypt!.cpuRatio).toBeCloseTo(0.4);
    expect(encrypt!.perRound).toHaveLength(3);
  });

  it('labels variant rows, sums errors and keeps the first error', () => {
    const samples = new SampleTable();
    samples.add('encrypt@no-cache', 1, sample(100));
    samples.add('encrypt@no-cache', 1, { ...sample(90, 1, 2), firstError: 'HTTP 500' });
    const [row] = buildResults([scenario('encrypt', 'no-cache')], [1], samples);
    expect(row).toMatchObject({ row: 'encrypt@no-cache', variant: 'no-cache', server: 'keyhaven@no-cache' });
    expect(row).toMatchObject({ errors: 2, firstError: 'HTTP 500', throughputRatio: null, floorRatio: null });
  });

  it('reports no cell and no ratio at a concurrency where a row did not run', () => {
    const samples = new SampleTable();
    for (const v of [100, 110]) {
      samples.add('encrypt', 1, sample(v));
      samples.add('encrypt', 16, sample(v * 3));
      samples.add('encrypt@pg-2', 16, sample(v * 2));
    }
    const results = buildResults([scenario('encrypt'), scenario('encrypt', 'pg-2')], [1, 16], samples);
    expect(results.map((r) => `${r.row} ${r.concurrency}`)).toEqual([
      'encrypt 1',
      'encrypt 16',
      'encrypt@pg-2 16',
    ]);
    const definition = {
      name: 'encrypt@pg-2 ÷ encrypt',
      kind: 'variant' as const,
      numerator: 'encrypt@pg-2',
      denominator: 'encrypt',
      meaning: '',
    };
    const ratios = buildRatios([definition], [1, 16], samples);
    expect(ratios.map((r) => r.concurrency)).toEqual([16]);
    expect(ratios[0]!.summary.median).toBeCloseTo(2 / 3);
  });
});
