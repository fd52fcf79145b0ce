// `npm run bench`: Keyhaven's REST throughput and latency next to a bare-Fastify baseline.
//
// Starts a real Keyhaven server and the baseline as child processes, runs a closed-loop load at each
// concurrency for each operation (warm-up first), prints a table with ratios to the baseline, checks
// the targets, and writes the results as JSON. See docs/benchmark.md.
//
// The HSM rows run on a second Keyhaven server with the pkcs11 key store on a fresh SoftHSM2 token;
// their ceiling, the raw PKCS#11 call rate of that token, is measured in this process (pkcs11js on
// the same key objects) before the load runs, while nothing else does.
//
// Environment:
//   BENCH_DURATION_MS   measured time per operation and concurrency (default 3000; 500 = smoke test)
//   BENCH_WARMUP_MS     warm-up before each measurement (default duration/3, within 200..1000)
//   BENCH_CONCURRENCY   comma-separated concurrencies (default 1,16,64)
//   BENCH_OPS           comma-separated operations (default all; the baseline always runs; the HSM
//                       ones are skipped with a note when SoftHSM2 is not installed, unless named)
//   BENCH_HSM_RAW_MS    measured time per raw PKCS#11 ceiling measurement (default min(2000, duration))
//   BENCH_HSM_INFLIGHT  async raw PKCS#11 calls in flight, one session each (default 16)
//   BENCH_OUT           where to write the JSON results (default bench/results/latest.json)
//   BENCH_PROFILE=1     run the servers under --cpu-prof and print a hot-spot summary
//   BENCH_ENFORCE=1     exit non-zero when a target fails
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hsmObjectLabel } from '../src/adapters/keystore/pkcs11/pkcs11-key-backend.js';
import { RAW_CALLS, RawToken, type RawCall, type RawMode, type RawRate } from './hsm-ceiling.js';
import { percentile, runLoad } from './load.js';
import { startBaseline, startKeyhaven, resolveFromRoot, type KeyhavenProcess } from './processes.js';
import { formatSummary, summarizeFile } from './profile.js';
import {
  HSM_OPERATIONS,
  OPERATIONS,
  buildScenarios,
  encodeScenario,
  preflight,
  type HsmKeys,
  type Operation,
} from './scenarios.js';
import { createSoftHsmToken, findSoftHsmModule, softHsmVersion, type BenchToken } from './softhsm.js';

interface BenchConfig {
  durationMs: number;
  warmupMs: number;
  concurrencies: number[];
  operations: Operation[];
  /** The SoftHSM2 library, when an HSM operation runs. */
  softHsmModule: string | undefined;
  hsmRawMs: number;
  hsmRawWarmupMs: number;
  hsmInFlight: number;
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
  /** For AES-GCM operations: requestsPerSecond / aead-floor requestsPerSecond at the same concurrency. */
  floorRatio: number | null;
}

/** The HSM rows divided by the raw PKCS#11 rate of the same token and call. */
export interface HsmCeilingRatio {
  operation: Operation;
  concurrency: number;
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

interface TargetCheck {
  name: string;
  pass: boolean;
  detail: string;
}

const TARGET_RATIO = 0.5;
/** Rows whose work includes one AES-GCM operation, compared with the AEAD floor. */
const AEAD_OPERATIONS: readonly Operation[] = ['encrypt', 'decrypt', 'datakey', 'hsm-encrypt'];
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
  // The AEAD floor is the reference for encrypt, so it runs with it.
  const withFloor = requested.includes('encrypt') ? [...requested, 'aead-floor'] : requested;
  let operations = OPERATIONS.filter((op) => op === 'baseline' || withFloor.includes(op));
  const wantsHsm = operations.some((op) => HSM_OPERATIONS.includes(op));
  const softHsmModule = wantsHsm ? findSoftHsmModule() : undefined;
  if (wantsHsm && !softHsmModule) {
    if (process.env.BENCH_OPS) {
      throw new Error('BENCH_OPS names an HSM operation but libsofthsm2.so is not installed (softhsm2)');
    }
    process.stderr.write('note: SoftHSM2 is not installed (libsofthsm2.so): skipping the HSM operations.\n');
    operations = operations.filter((op) => !HSM_OPERATIONS.includes(op));
  }
  return {
    durationMs,
    warmupMs,
    concurrencies,
    operations,
    softHsmModule,
    hsmRawMs: integerEnv('BENCH_HSM_RAW_MS', Math.min(2000, durationMs), 100),
    hsmRawWarmupMs: Math.min(warmupMs, 250),
    hsmInFlight: integerEnv('BENCH_HSM_INFLIGHT', 16, 1),
    out: process.env.BENCH_OUT || resolveFromRoot('bench', 'results', 'latest.json'),
    profile: process.env.BENCH_PROFILE === '1',
    enforce: process.env.BENCH_ENFORCE === '1',
  };
}

const fixed = (value: number | null, digits: number) =>
  value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

/** A Markdown table, the first `left` columns left-aligned and the others right-aligned. */
function markdownTable(header: string[], rows: string[][], left = 1): string {
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
    'floor ratio',
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
    fixed(r.floorRatio, 2),
  ]);
  return markdownTable(header, rows);
}

const modeLabel = (rate: RawRate) =>
  rate.mode === 'sync' ? 'sync, 1 session' : `async, ${rate.inFlight} in flight`;

function formatCeiling(ceiling: HsmCeiling): string {
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
      `process while nothing else runs, ${ceiling.durationMs} ms each`,
    ...ceiling.raw.filter((r) => r.mode === 'sync').map((r) => `  ${r.call}: ${r.description}`),
    '',
    raw,
    '',
    ratios,
  ].join('\n');
}

const RAW_CALL_OF: Partial<Record<Operation, RawCall>> = { 'hsm-encrypt': 'encrypt', 'hsm-sign': 'sign' };

function ceilingRatios(results: BenchResult[], raw: RawRate[]): HsmCeilingRatio[] {
  return results.flatMap((r) => {
    const call = RAW_CALL_OF[r.operation];
    if (!call) return [];
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

/** The raw PKCS#11 rates of the token behind the HSM server, on the keys the server created. */
async function measureCeiling(
  config: BenchConfig,
  token: BenchToken,
  keys: HsmKeys,
  calls: RawCall[],
  log: (line: string) => void,
): Promise<RawRate[]> {
  const raw = RawToken.open({
    modulePath: token.modulePath,
    conf: token.conf,
    tokenLabel: token.label,
    pin: token.pin,
    encryptKeyLabel: hsmObjectLabel(keys.encryptKeyId, 1),
    signKeyLabel: hsmObjectLabel(keys.signKeyId, 1),
  });
  const close = () => raw.close();
  cleanups.push(close);
  const rates: RawRate[] = [];
  try {
    for (const call of calls) {
      for (const mode of ['sync', 'async'] as const) {
        const rate = await raw.measure(
          call,
          mode,
          config.hsmInFlight,
          config.hsmRawMs,
          config.hsmRawWarmupMs,
        );
        rates.push(rate);
        log(
          `  raw ${call.padEnd(7)} ${modeLabel(rate).padEnd(20)} ${rate.opsPerSecond.toFixed(0).padStart(7)} ops/s  ` +
            `CPU ${rate.cpuUsPerOp.toFixed(1)} µs/op`,
        );
      }
    }
  } finally {
    const index = cleanups.indexOf(close);
    if (index >= 0) cleanups.splice(index, 1);
    await raw.close();
  }
  return rates;
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

/**
 * What the AEAD floor says about the target: an encrypt endpoint cannot be cheaper than base64 plus
 * one AES-GCM seal, so the floor's own ratio to the baseline bounds every encrypt row's ratio.
 */
function floorNotes(results: BenchResult[]): string[] {
  return TARGET_CONCURRENCIES.flatMap((concurrency) => {
    const base = results.find((r) => r.operation === 'baseline' && r.concurrency === concurrency);
    const floor = results.find((r) => r.operation === 'aead-floor' && r.concurrency === concurrency);
    const encrypt = results.find((r) => r.operation === 'encrypt' && r.concurrency === concurrency);
    if (!base || !floor || !encrypt || base.requestsPerSecond === 0) return [];
    const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
    return [
      `INFO at concurrency ${concurrency}: the AEAD floor (bare Fastify + base64 + one AES-256-GCM seal) ` +
        `reaches ${percent(floor.requestsPerSecond / base.requestsPerSecond)} of the baseline; encrypt ` +
        `reaches ${percent(encrypt.floorRatio ?? 0)} of the floor.`,
    ];
  });
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
  const results: BenchResult[] = [];
  let rawRates: RawRate[] | undefined;
  let token: BenchToken | undefined;
  try {
    const keyhaven = await startKeyhaven({ nodeFlags: profileFlags(profileDir, 'keyhaven') });
    cleanups.push(() => keyhaven.stop());
    const baseline = await startBaseline({ nodeFlags: profileFlags(profileDir, 'baseline') });
    cleanups.push(() => baseline.stop());
    let hsm: KeyhavenProcess | undefined;
    if (config.softHsmModule) {
      const created = createSoftHsmToken(config.softHsmModule);
      token = created;
      cleanups.push(() => created.dispose());
      hsm = await startKeyhaven({
        name: 'keyhaven-hsm',
        nodeFlags: profileFlags(profileDir, 'keyhaven-hsm'),
        env: created.keyhavenEnv,
      });
      const server = hsm;
      cleanups.push(() => server.stop());
    }
    const built = await buildScenarios(keyhaven, baseline, hsm);
    const scenarios = built.scenarios.filter((s) => config.operations.includes(s.operation));
    for (const scenario of scenarios) await preflight(scenario);

    if (token && built.hsmKeys) {
      const calls = config.operations.flatMap((op) => RAW_CALL_OF[op] ?? []);
      log(
        `  HSM ceiling: raw PKCS#11 on token "${token.label}", ${config.hsmRawMs} ms per call and mode, ` +
          `async with ${config.hsmInFlight} in flight`,
      );
      rawRates = await measureCeiling(config, token, built.hsmKeys, calls, log);
    }

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
          floorRatio: null,
        };
        results.push(result);
        log(
          `  ${scenario.operation.padEnd(11)} c=${String(concurrency).padEnd(3)} ` +
            `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  ` +
            `p99 ${result.p99Ms.toFixed(2)} ms  errors ${result.errors}` +
            (load.firstError ? `  (first: ${load.firstError})` : ''),
        );
      }
    }
  } finally {
    await cleanUp();
  }

  for (const result of results) {
    const base = results.find((r) => r.operation === 'baseline' && r.concurrency === result.concurrency);
    if (!base || base.requestsPerSecond === 0) continue;
    result.throughputRatio = result.requestsPerSecond / base.requestsPerSecond;
    result.latencyRatio = result.p50Ms / base.p50Ms;
    if (base.serverCpuUsPerRequest !== null && result.serverCpuUsPerRequest) {
      result.cpuRatio = base.serverCpuUsPerRequest / result.serverCpuUsPerRequest;
    }
    const floor = results.find((r) => r.operation === 'aead-floor' && r.concurrency === result.concurrency);
    if (floor && floor.requestsPerSecond > 0 && AEAD_OPERATIONS.includes(result.operation)) {
      result.floorRatio = result.requestsPerSecond / floor.requestsPerSecond;
    }
  }
  const ordered = config.operations.flatMap((op) => results.filter((r) => r.operation === op));
  const targets = checkTargets(results);
  const hsmCeiling: HsmCeiling | undefined =
    rawRates && token
      ? {
          token: `SoftHSM2 ${softHsmVersion()}`,
          module: token.modulePath,
          durationMs: config.hsmRawMs,
          warmupMs: config.hsmRawWarmupMs,
          raw: rawRates.map((r) => ({ ...r, description: RAW_CALLS[r.call] })),
          ratios: ceilingRatios(ordered, rawRates),
        }
      : undefined;

  console.log('');
  console.log(formatTable(ordered));
  console.log('');
  console.log(
    'rps ratio = req/s / baseline req/s; p50 ratio = p50 / baseline p50; cpu ratio = baseline server ' +
      'CPU per request / server CPU per request; floor ratio = req/s / aead-floor req/s (all at the ' +
      'same concurrency).',
  );
  if (hsmCeiling) {
    console.log('');
    console.log(formatCeiling(hsmCeiling));
    console.log('');
    console.log(
      'ratio to sync = req/s / raw ops/s of one synchronous loop; ratio to async = req/s / raw ops/s ' +
        'with the async calls the server uses, many in flight. 1.00 = the token, not Keyhaven, is the limit.',
    );
  }
  console.log('');
  for (const check of targets) console.log(`${check.pass ? 'PASS' : 'FAIL'} ${check.name}: ${check.detail}`);
  for (const line of floorNotes(results)) console.log(line);

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
        ...(hsmCeiling ? { hsmCeiling } : {}),
        targets,
      },
      (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 1000) / 1000 : value),
      2,
    ) + '\n',
  );
  console.log(`results written to ${config.out}`);

  if (profileDir) {
    for (const name of ['keyhaven', 'baseline', 'keyhaven-hsm']) {
      const dir = join(profileDir, name);
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
        console.log(`\n=== CPU profile of the ${name} server: ${join(dir, file)}`);
        console.log(formatSummary(summarizeFile(join(dir, file))));
      }
    }
  }

  return config.enforce && targets.some((t) => !t.pass) ? 1 : 0;
}

/**
 * What to undo at the end or on an interrupt, run last first: stop the servers (which removes their
 * data directories), close the raw PKCS#11 sessions and finalise the library, remove the SoftHSM2
 * token directory (after the server using it has stopped).
 */
const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`keyhaven bench: clean-up failed: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

/** Set by SIGINT/SIGTERM: the handler exits once clean-up is done; main's own errors are moot. */
let interrupted = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`keyhaven bench: ${signal}, stopping the servers\n`);
    void cleanUp().then(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (interrupted) return;
    console.error('keyhaven bench failed:', error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
