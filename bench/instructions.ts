// `npm run bench:instructions`: CPU instructions per request of each operation, counted by valgrind's
// callgrind, and the same ratios as `npm run bench` computed from them. On the shared machines this
// project runs on, req/s spread by 20-50 % between rounds; instruction counts repeat within a few
// per cent, so a change's cost reads here before the interleaved rounds can resolve it.
//
// Each server runs under callgrind with `node --single-threaded --no-memory-reducer`: V8's GC and
// compiler work on the main thread, so they are counted too and nothing races; the memory reducer
// shrank the heap of a server idle while the others were measured and made its next measurement
// 15-60 % high. First every operation is warmed with sequential requests (the JIT settles); then,
// per operation and repeat, `callgrind_control --zero`, the measured requests one after another
// over one connection, `callgrind_control --dump`; the dump's total over the request count is the
// cost per request, and the median of the repeats is reported with their spread. Instructions are
// not time (cache misses, system calls and other cores' work are not weighed), so `npm run bench`
// stays the measure of record; this one is its steady companion.
//
// Environment:
//   BENCH_OPS           operations (default baseline, aead-floor, encrypt, decrypt)
//   BENCH_VARIANTS      variants from bench/variants.ts to run as well (default none: each is one
//                       more server under valgrind)
//   BENCH_COMPARE_CHECKOUT  built checkouts of other commits, as for `npm run bench`
//   INSTR_REQUESTS      measured requests per operation (default 3000)
//   INSTR_WARMUP        warm-up requests per operation, in two passes over all rows before any is
//                       measured (default 6000)
//   INSTR_REPEATS       measurements per row, rows alternating; the median is reported (default 3)
//   BENCH_OUT           JSON results (default bench/results/instructions.json)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  dumpFile,
  instructionRatios,
  instructionRow,
  readDump,
  medianRow,
  type InstructionRow,
} from './callgrind.js';
import { runLoad } from './load.js';
import { markdownTable } from './report.js';
import {
  resolveFromRoot,
  startBaseline,
  startKeyhaven,
  type BenchProcess,
  type SpawnOptions,
} from './processes.js';
import {
  EXTERNAL_OPERATIONS,
  HSM_OPERATIONS,
  OPERATIONS,
  buildScenarios,
  buildVariantScenarios,
  encodeScenario,
  preflight,
  rowLabel,
  type Operation,
  type Scenario,
} from './scenarios.js';
import { VARIANTS, benchOnly, checkoutVariants, type Variant } from './variants.js';

/**
 * Valgrind runs the servers about 50 times slower, so work on a timer (the key-metadata cache's
 * expiry, the usage counters' flush, the scheduled jobs) would fall on 50 times fewer requests than
 * in a real run and inflate every count. Stretched by that factor, they come as often per request
 * as at a few thousand req/s. (The 2 s readiness probe is not configurable: at the ~120 req/s of
 * a server under valgrind it runs once per ~240 requests, an estimated few thousand instructions
 * per request on Keyhaven's rows, none on the baseline's.)
 */
const STRETCHED_TIMERS: Record<string, Record<string, unknown>> = {
  limits: { maxKeys: 100_000_000 },
  cache: { keyMetadataTtlMs: 50_000, ttlSeconds: 15_000 },
  jobs: { usageFlushMs: 50_000, intervalSeconds: 3000 },
};

const withStretchedTimers = (config: Variant['config'] = {}) =>
  Object.fromEntries(
    [...new Set([...Object.keys(STRETCHED_TIMERS), ...Object.keys(config)])].map((section) => [
      section,
      { ...STRETCHED_TIMERS[section], ...config[section] },
    ]),
  );

const DEFAULT_OPERATIONS: readonly Operation[] = ['baseline', 'aead-floor', 'encrypt', 'decrypt'];
const SOFTWARE_OPERATIONS: readonly Operation[] = [
  'encrypt',
  'aws-encrypt',
  'decrypt',
  'datakey',
  'sign',
  'verify',
  'create-key',
];
/** Why a row's instructions are not counted under callgrind. */
function whyNotCounted(op: Operation): string {
  if (HSM_OPERATIONS.includes(op)) return 'HSM work runs in the token, not in node';
  if (EXTERNAL_OPERATIONS.includes(op))
    return 'its work is spread over the server and its provider processes';
  return 'the envelope rows run the integration library in the bench process, not a server request';
}

const RATIO_PAIRS = [
  ['encrypt', 'aead-floor'],
  ['aead-floor', 'baseline'],
  ['encrypt', 'baseline'],
  ['decrypt', 'baseline'],
] as const;

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const list = (name: string) =>
  process.env[name]
    ? process.env[name]
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
    : undefined;

function readConfig() {
  const operations = (list('BENCH_OPS') ?? DEFAULT_OPERATIONS) as Operation[];
  for (const op of operations) {
    if (!OPERATIONS.includes(op)) throw new Error(`BENCH_OPS: unknown operation "${op}"`);
    if (SOFTWARE_OPERATIONS.includes(op) || op === 'baseline' || op === 'aead-floor') continue;
    throw new Error(`BENCH_OPS: ${op} is not measured here (${whyNotCounted(op)}): npm run bench only`);
  }
  const named = list('BENCH_VARIANTS') ?? [];
  const variants: Variant[] = [
    ...named.map((name) => {
      const variant = VARIANTS.find((v) => v.name === name);
      if (!variant) throw new Error(`BENCH_VARIANTS: unknown variant "${name}"`);
      if (variant.reference !== 'keyhaven') throw new Error(`BENCH_VARIANTS: ${name} is an HSM variant`);
      if (benchOnly(variant)) {
        throw new Error(
          `BENCH_VARIANTS: ${name} runs several processes or fills its store: npm run bench only`,
        );
      }
      return variant;
    }),
    ...checkoutVariants(process.env.BENCH_COMPARE_CHECKOUT),
  ];
  return {
    operations,
    variants,
    requests: positiveInteger('INSTR_REQUESTS', 3000),
    warmup: positiveInteger('INSTR_WARMUP', 6000),
    repeats: positiveInteger('INSTR_REPEATS', 3),
    out: process.env.BENCH_OUT || resolveFromRoot('bench', 'results', 'instructions.json'),
  };
}

function requireValgrind(): void {
  for (const tool of ['valgrind', 'callgrind_control']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed (Debian: apt-get install valgrind)`);
    }
  }
}

/** One server under callgrind, and how many dumps it has been asked for. */
interface Counted {
  process: BenchProcess;
  prefix: string;
  dumps: number;
}

function underCallgrind(dir: string, name: string): { options: SpawnOptions; prefix: string } {
  const prefix = join(dir, name);
  return {
    prefix,
    options: {
      name,
      wrapper: ['valgrind', '--tool=callgrind', '--dump-instr=no', `--callgrind-out-file=${prefix}`],
      // No memory reducer: a server idle while the others are measured had its heap shrunk by
      // it, and its next measurement paid the regrowth (first repeats up to 50 % high).
      nodeFlags: ['--single-threaded', '--no-memory-reducer'],
      readyTimeoutMs: 600_000,
    },
  };
}

const sequential = async (scenario: Scenario, requests: number) =>
  runLoad(
    {
      endpoints: [
        { host: scenario.target.host, port: scenario.target.port, requests: await encodeScenario(scenario) },
      ],
      expectStatus: scenario.expectStatus,
    },
    { concurrency: 1, durationMs: 24 * 3600_000, maxRequests: requests, drainTimeoutMs: 60_000 },
  );

async function warmUp(scenario: Scenario, requests: number): Promise<void> {
  const warm = await sequential(scenario, requests);
  if (warm.errors) throw new Error(`${rowLabel(scenario)}: warm-up failed: ${warm.firstError}`);
}

async function measure(counted: Counted, scenario: Scenario, requests: number): Promise<InstructionRow> {
  const pid = String(counted.process.pid);
  execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
  const measured = await sequential(scenario, requests);
  execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
  const file = dumpFile(counted.prefix, ++counted.dumps);
  if (measured.errors || measured.completed !== requests) {
    throw new Error(`${rowLabel(scenario)}: ${measured.completed}/${requests} ok: ${measured.firstError}`);
  }
  for (let waited = 0; waited < 60_000; waited += 200) {
    const instructions = readDump(file);
    if (instructions !== undefined) return instructionRow(rowLabel(scenario), requests, instructions);
    await sleep(200);
  }
  throw new Error(`${rowLabel(scenario)}: callgrind wrote no dump at ${file}`);
}

async function main(): Promise<void> {
  requireValgrind();
  const config = readConfig();
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-callgrind-'));
  const servers: Counted[] = [];
  const start = async (name: string, launch: (options: SpawnOptions) => Promise<BenchProcess>) => {
    const { options, prefix } = underCallgrind(dir, name);
    process.stderr.write(`starting ${name} under callgrind (slow)...\n`);
    const counted = { process: await launch(options), prefix, dumps: 0 };
    servers.push(counted);
    return counted;
  };
  try {
    const keyhaven = await start('keyhaven', (options) =>
      startKeyhaven({ ...options, config: withStretchedTimers() }),
    );
    const baseline = await start('baseline', (options) => startBaseline(options));
    const byTarget = new Map<BenchProcess, Counted>([
      [keyhaven.process, keyhaven],
      [baseline.process, baseline],
    ]);
    const keyhavenProcess = keyhaven.process as Parameters<typeof buildScenarios>[0];
    const scenarios = (await buildScenarios(keyhavenProcess, baseline.process)).scenarios.filter((s) =>
      config.operations.includes(s.operation),
    );
    for (const variant of config.variants) {
      const server = await start(`keyhaven-${variant.name}`, (options) =>
        startKeyhaven({
          ...options,
          config: withStretchedTimers(variant.config),
          env: variant.env,
          checkout: variant.checkout,
        }),
      );
      byTarget.set(server.process, server);
      const operations = variant.operations.filter((op) => config.operations.includes(op));
      scenarios.push(
        ...(await buildVariantScenarios(server.process as typeof keyhavenProcess, variant.name, operations)),
      );
    }

    // Every row is warmed before any is measured: a server's first row must not pay the JIT's
    // compilation of the code its later rows share.
    // In two alternating passes, so that every server has served all of its rows before any is
    // measured.
    for (const scenario of scenarios) await preflight(scenario);
    for (let pass = 0; pass < 2; pass++) {
      for (const scenario of scenarios) await warmUp(scenario, Math.ceil(config.warmup / 2));
    }
    const samples = new Map<string, InstructionRow[]>();
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      for (const scenario of scenarios) {
        const row = await measure(byTarget.get(scenario.target)!, scenario, config.requests);
        samples.set(row.row, [...(samples.get(row.row) ?? []), row]);
        process.stderr.write(
          `  ${row.row.padEnd(24)} ${Math.round(row.perRequest / 1000)}k instructions/request\n`,
        );
      }
    }
    const rows = [...samples.values()].map(medianRow);
    const pairs = [
      ...RATIO_PAIRS,
      ...scenarios.filter((s) => s.variant).map((s) => [rowLabel(s), s.operation] as const),
    ];
    const ratios = instructionRatios(rows, pairs);

    console.log(
      `\n${config.requests} sequential requests per row and repeat, after ${config.warmup} of warm-up; ` +
        `${config.repeats} repeats\n`,
    );
    const spreadPercent = (row: InstructionRow) => {
      const all = samples.get(row.row)!.map((sample) => sample.perRequest);
      return ((Math.max(...all) - Math.min(...all)) / row.perRequest) * 100;
    };
    console.log(
      markdownTable(
        ['row', 'instructions/request (median)', 'spread of the repeats'],
        rows.map((row) => [
          row.row,
          Math.round(row.perRequest).toLocaleString('en'),
          `${spreadPercent(row).toFixed(1)} %`,
        ]),
      ),
    );
    console.log(
      '\n' +
        markdownTable(
          ["ratio (a ÷ b = b's instructions ÷ a's)", 'value'],
          ratios.map((ratio) => [ratio.name, ratio.ratio.toFixed(3)]),
        ),
    );

    mkdirSync(dirname(config.out), { recursive: true });
    writeFileSync(
      config.out,
      JSON.stringify(
        { date: new Date().toISOString(), ...config, rows, samples: Object.fromEntries(samples), ratios },
        null,
        2,
      ) + '\n',
    );
    console.log(`\nresults written to ${config.out}`);
  } finally {
    await Promise.allSettled(servers.map((server) => server.process.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
