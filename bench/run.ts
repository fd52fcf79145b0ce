// `npm run bench`: Keyhaven's REST throughput and latency next to a bare-Fastify baseline.
//
// Starts a real Keyhaven server and the baseline as child processes, runs a closed-loop load at each
// concurrency for each operation (warm-up first), prints a table with ratios to the baseline, checks
// the targets, and writes the results as JSON. See docs/benchmark.md.
//
// Environment:
//   BENCH_DURATION_MS   measured time per operation and concurrency (default 3000; 500 = smoke test)
//   BENCH_WARMUP_MS     warm-up before each measurement (default duration/3, within 200..1000)
//   BENCH_CONCURRENCY   comma-separated concurrencies (default 1,16,64)
//   BENCH_OPS           comma-separated operations (default all; the baseline always runs)
//   BENCH_OUT           where to write the JSON results (default bench/results/latest.json)
//   BENCH_PROFILE=1     run the servers under --cpu-prof and print a hot-spot summary
//   BENCH_ENFORCE=1     exit non-zero when a target fails
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { percentile, runLoad } from './load.js';
import { startBaseline, startKeyhaven, resolveFromRoot, type BenchProcess } from './processes.js';
import { formatSummary, summarizeFile } from './profile.js';
import { OPERATIONS, buildScenarios, encodeScenario, preflight, type Operation } from './scenarios.js';

interface BenchConfig {
  durationMs: number;
  warmupMs: number;
  concurrencies: number[];
  operations: Operation[];
  out: string;
  profile: boolean;
  enforce: boolean;
}

export interface BenchResult {
  operation: Operation;
  description: string;
  concurrency: number;
  requests: number;
  errors: number;
  firstError?: string;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Server CPU (user + system) per successful request, microseconds; null without /proc. */
  serverCpuUsPerRequest: number | null;
  /** Load generator CPU per request, microseconds. */
  clientCpuUsPerRequest: number;
  /** requestsPerSecond / baseline requestsPerSecond at the same concurrency. */
  throughputRatio: number | null;
  /** p50Ms / baseline p50Ms at the same concurrency. */
  latencyRatio: number | null;
  /** Baseline server CPU per request / this server CPU per request (1 = as cheap as the baseline). */
  cpuRatio: number | null;
}

interface TargetCheck {
  name: string;
  pass: boolean;
  detail: string;
}

const TARGET_RATIO = 0.5;
const TARGET_CONCURRENCIES = [16, 64];

function integerEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

function readConfig(): BenchConfig {
  const durationMs = integerEnv('BENCH_DURATION_MS', 3000, 100);
  const warmupMs = integerEnv(
    'BENCH_WARMUP_MS',
    Math.min(1000, Math.max(200, Math.round(durationMs / 3))),
    0,
  );
  const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map((c) => {
    const value = Number(c.trim());
    if (!Number.isInteger(value) || value < 1 || value > 1024) {
      throw new Error(`BENCH_CONCURRENCY: "${c}" is not a concurrency between 1 and 1024`);
    }
    return value;
  });
  const requested = process.env.BENCH_OPS
    ? process.env.BENCH_OPS.split(',').map((o) => o.trim())
    : [...OPERATIONS];
  for (const op of requested) {
    if (!(OPERATIONS as readonly string[]).includes(op)) {
      throw new Error(`BENCH_OPS: unknown operation "${op}" (known: ${OPERATIONS.join(', ')})`);
    }
  }
  const operations = OPERATIONS.filter((op) => op === 'baseline' || requested.includes(op));
  return {
    durationMs,
    warmupMs,
    concurrencies,
    operations,
    out: process.env.BENCH_OUT || resolveFromRoot('bench', 'results', 'latest.json'),
    profile: process.env.BENCH_PROFILE === '1',
    enforce: process.env.BENCH_ENFORCE === '1',
  };
}

const fixed = (value: number | null, digits: number) =>
  value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

function formatTable(results: BenchResult[]): string {
  const header = [
    'operation',
    'conc',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'srv CPU µs/req',
    'rps ratio',
    'p50 ratio',
    'cpu ratio',
  ];
  const rows = results.map((r) => [
    r.operation,
    String(r.concurrency),
    fixed(r.requestsPerSecond, 0),
    fixed(r.p50Ms, 2),
    fixed(r.p99Ms, 2),
    String(r.errors),
    fixed(r.serverCpuUsPerRequest, 0),
    fixed(r.throughputRatio, 2),
    fixed(r.latencyRatio, 2),
    fixed(r.cpuRatio, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ') +
    ' |';
  const rule =
    '|' + widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function checkTargets(results: BenchResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const concurrency of TARGET_CONCURRENCIES) {
    const encrypt = results.find((r) => r.operation === 'encrypt' && r.concurrency === concurrency);
    if (!encrypt) continue;
    const ratio = encrypt.throughputRatio ?? 0;
    const pass = ratio >= TARGET_RATIO && encrypt.errors === 0;
    checks.push({
      name: `encrypt throughput >= ${TARGET_RATIO * 100}% of baseline at concurrency ${concurrency}`,
      pass,
      detail:
        `${(ratio * 100).toFixed(0)}% (${encrypt.requestsPerSecond.toFixed(0)} req/s vs baseline ` +
        `${(encrypt.requestsPerSecond / (ratio || 1)).toFixed(0)} req/s)` +
        (encrypt.errors ? `, ${encrypt.errors} errors` : ''),
    });
  }
  return checks;
}

function profileFlags(dir: string | undefined, name: string): string[] {
  if (!dir) return [];
  const target = join(dir, name);
  mkdirSync(target, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', target];
}

async function main(): Promise<number> {
  const config = readConfig();
  const log = (line: string) => process.stderr.write(line + '\n');
  const cpuList = cpus();
  log(
    `keyhaven bench: node ${process.version}, ${cpuList.length} CPU(s) (${cpuList[0]?.model ?? 'unknown'}), ` +
      `${config.durationMs} ms per run after ${config.warmupMs} ms warm-up, ` +
      `concurrency ${config.concurrencies.join('/')}`,
  );
  if (cpuList.length <= 2) {
    log('note: the load generator shares the CPU with the servers; compare ratios, not absolute figures.');
  }

  const profileDir = config.profile ? mkdtempSync(join(tmpdir(), 'keyhaven-bench-profile-')) : undefined;
  const keyhaven = await startKeyhaven({ nodeFlags: profileFlags(profileDir, 'keyhaven') });
  running.push(keyhaven);
  let baseline: BenchProcess | undefined;
  const results: BenchResult[] = [];
  try {
    baseline = await startBaseline({ nodeFlags: profileFlags(profileDir, 'baseline') });
    running.push(baseline);
    const scenarios = (await buildScenarios(keyhaven, baseline)).filter((s) =>
      config.operations.includes(s.operation),
    );
    for (const scenario of scenarios) await preflight(scenario);

    // Concurrency is the outer loop so that each operation is measured close in time to the
    // baseline it is compared with.
    for (const concurrency of config.concurrencies) {
      for (const scenario of scenarios) {
        const target = {
          host: scenario.target.host,
          port: scenario.target.port,
          requests: encodeScenario(scenario),
          expectStatus: scenario.expectStatus,
        };
        if (config.warmupMs > 0) await runLoad(target, { concurrency, durationMs: config.warmupMs });
        const serverBefore = scenario.target.cpuTimeMs();
        const clientBefore = process.cpuUsage();
        const load = await runLoad(target, { concurrency, durationMs: config.durationMs });
        const clientCpu = process.cpuUsage(clientBefore);
        const serverAfter = scenario.target.cpuTimeMs();
        const requests = Math.max(load.completed, 1);
        const result: BenchResult = {
          operation: scenario.operation,
          description: scenario.description,
          concurrency,
          requests: load.completed,
          errors: load.errors,
          ...(load.firstError ? { firstError: load.firstError } : {}),
          requestsPerSecond: load.requestsPerSecond,
          p50Ms: percentile(load.latenciesMs, 0.5),
          p90Ms: percentile(load.latenciesMs, 0.9),
          p99Ms: percentile(load.latenciesMs, 0.99),
          maxMs: percentile(load.latenciesMs, 1),
          serverCpuUsPerRequest:
            serverBefore === undefined || serverAfter === undefined
              ? null
              : ((serverAfter - serverBefore) * 1000) / requests,
          clientCpuUsPerRequest: (clientCpu.user + clientCpu.system) / requests,
          throughputRatio: null,
          latencyRatio: null,
          cpuRatio: null,
        };
        results.push(result);
        log(
          `  ${scenario.operation.padEnd(10)} c=${String(concurrency).padEnd(3)} ` +
            `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  ` +
            `p99 ${result.p99Ms.toFixed(2)} ms  errors ${result.errors}` +
            (load.firstError ? `  (first: ${load.firstError})` : ''),
        );
      }
    }
  } finally {
    running.length = 0;
    await baseline?.stop();
    await keyhaven.stop();
  }

  for (const result of results) {
    const base = results.find((r) => r.operation === 'baseline' && r.concurrency === result.concurrency);
    if (!base || base.requestsPerSecond === 0) continue;
    result.throughputRatio = result.requestsPerSecond / base.requestsPerSecond;
    result.latencyRatio = result.p50Ms / base.p50Ms;
    if (base.serverCpuUsPerRequest !== null && result.serverCpuUsPerRequest) {
      result.cpuRatio = base.serverCpuUsPerRequest / result.serverCpuUsPerRequest;
    }
  }
  const ordered = config.operations.flatMap((op) => results.filter((r) => r.operation === op));
  const targets = checkTargets(results);

  console.log('');
  console.log(formatTable(ordered));
  console.log('');
  console.log(
    'rps ratio = req/s / baseline req/s; p50 ratio = p50 / baseline p50; cpu ratio = baseline server ' +
      'CPU per request / server CPU per request (all at the same concurrency).',
  );
  for (const check of targets) console.log(`${check.pass ? 'PASS' : 'FAIL'} ${check.name}: ${check.detail}`);

  mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(
    config.out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model,
        durationMs: config.durationMs,
        warmupMs: config.warmupMs,
        results: ordered,
        targets,
      },
      (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 1000) / 1000 : value),
      2,
    ) + '\n',
  );
  console.log(`results written to ${config.out}`);

  if (profileDir) {
    for (const name of ['keyhaven', 'baseline']) {
      const dir = join(profileDir, name);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
        console.log(`\n=== CPU profile of the ${name} server: ${join(dir, file)}`);
        console.log(formatSummary(summarizeFile(join(dir, file))));
      }
    }
  }

  return config.enforce && targets.some((t) => !t.pass) ? 1 : 0;
}

/** Servers to stop (and whose data directory to remove) if the run is interrupted. */
const running: BenchProcess[] = [];
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`keyhaven bench: ${signal}, stopping the servers\n`);
    Promise.allSettled(running.map((p) => p.stop())).then(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('keyhaven bench failed:', error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
