// `npm run bench`: Keyhaven's REST throughput and latency next to a bare-Fastify baseline, measured
// by interleaved rounds so that ratios are read from one method on a noisy shared machine.
//
// Every server is started once: the baseline (bare Fastify, with its AEAD-floor route), Keyhaven,
// Keyhaven on a SoftHSM2 token (HSM rows) and one extra Keyhaven per variant (bench/variants.ts):
// for the scale variants several nodes on a throwaway PostgreSQL server, worker processes, or a
// store filled with many keys before the server starts.
// Each round then measures every (row, concurrency) cell once, warm-up first, in an order that
// alternates and rotates between rounds (bench/rounds.ts). After the rounds it prints per cell the
// median req/s and latency and the spread of the rounds, the ratios computed round by round (a
// row over the same round's baseline, AEAD floor or reference server) and summarised by their
// median, checks the targets (bench/targets.ts) and writes everything, per-round values included,
// as JSON. See docs/benchmark.md.
//
// The envelope rows (bench/envelope.ts) measure the integration library in this process: a
// KmsIntegrationService over the Keyhaven server, its data-key cache off and on.
//
// The HSM rows' ceiling, the raw PKCS#11 call rate of their token, is measured in this process
// (pkcs11js on the same key objects) before the rounds, while nothing else runs.
//
// Environment:
//   BENCH_ROUNDS        rounds; each measures every cell once (default 9; BENCH_SMOKE: 2)
//   BENCH_DURATION_MS   measured time per cell and round (default 1000; BENCH_SMOKE: 300)
//   BENCH_WARMUP_MS     warm-up before each measurement (default duration/3, within 100..1000)
//   BENCH_CONCURRENCY   comma-separated concurrencies (default 1,16,64)
//   BENCH_OPS           comma-separated operations (default all; the baseline always runs, the AEAD
//                       floor with encrypt; the HSM ones are skipped with a note when SoftHSM2 is not
//                       installed, unless named; external-encrypt starts two more servers: the EXTERNAL
//                       keys' server and its provider)
//   BENCH_VARIANTS      comma-separated variant names, or "none" (default all in bench/variants.ts);
//                       a variant runs those of its operations that BENCH_OPS selects
//   BENCH_COMPARE_CHECKOUT  built checkouts of other commits, comma-separated: adds a variant
//                       `at-<dir name>` per checkout, that server, compared with this one
//                       (encrypt, decrypt, datakey, sign)
//   BENCH_HSM_RAW_MS    measured time per raw PKCS#11 ceiling measurement (default min(2000, 2 ×
//                       duration))
//   BENCH_HSM_INFLIGHT  async raw PKCS#11 calls in flight, one session each (default 16)
//   BENCH_SMOKE=1       a quick check that everything runs: 2 rounds of 300 ms (explicit values win)
//   BENCH_OUT           where to write the JSON results (default bench/results/latest.json)
//   BENCH_PROFILE=1     run the servers under --cpu-prof and print a hot-spot summary
//   BENCH_NODE_FLAGS    extra node flags for every server, space-separated (e.g. GC settings)
//   BENCH_ENFORCE=1     exit non-zero when a target fails
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { hsmObjectLabel } from '../src/adapters/keystore/pkcs11/pkcs11-key-backend.js';
import { ROOT_KEY_FILE } from '../src/adapters/keystore/software/sealed-root-key.js';
import { fillTemplate, type FilledStore } from './fill-keys.js';
import { RAW_CALLS, RawToken, type RawCall, type RawRate } from './hsm-ceiling.js';
import { measureCell } from './measure.js';
import { postgresInstalled, startPostgres, type PostgresCluster } from './postgres.js';
import {
  newCredentials,
  startBaseline,
  startKeyhaven,
  resolveFromRoot,
  type KeyhavenProcess,
  type KeyhavenSpawnOptions,
} from './processes.js';
import { formatSummary, summarizeFile } from './profile.js';
import { ratioDefinitions } from './ratios.js';
import { formatCeiling, formatLegend, formatRatios, formatRawRate, formatResults } from './report.js';
import {
  RAW_CALL_OF,
  SampleTable,
  buildRatios,
  buildResults,
  ceilingRatios,
  type HsmCeiling,
} from './results.js';
import { roundSchedule } from './rounds.js';
import {
  HSM_OPERATIONS,
  EXTERNAL_OPERATIONS,
  type ExternalSetup,
  OPERATIONS,
  buildScenarios,
  buildVariantScenarios,
  preflightNodes,
  rowLabel,
  spreadOverKeys,
  type HsmKeys,
  type Operation,
  type Scenario,
} from './scenarios.js';
import { createSoftHsmToken, findSoftHsmModule, softHsmVersion, type BenchToken } from './softhsm.js';
import { TARGETS, checkTargets } from './targets.js';
import {
  VARIANTS,
  checkoutVariants,
  variantConcurrencies,
  variantProblem,
  type Variant,
} from './variants.js';

interface BenchConfig {
  rounds: number;
  durationMs: number;
  warmupMs: number;
  concurrencies: number[];
  operations: Operation[];
  /** The variants to run, each cut down to the selected operations. */
  variants: Variant[];
  /** The SoftHSM2 library, when an HSM operation or an HSM variant runs. */
  softHsmModule: string | undefined;
  hsmRawMs: number;
  hsmRawWarmupMs: number;
  hsmInFlight: number;
  out: string;
  profile: boolean;
  enforce: boolean;
}

/**
 * Settings every benchmark Keyhaven gets. The key quota is a limit, not a cost: create-key makes
 * thousands of keys per round, more than the default 100,000 over a long run.
 */
/**
 * The HSM reference server as a local token (SoftHSM2) should be run: short PKCS#11 calls on the
 * event loop's thread (docs/hsm.md "Speed"); the hsm-async variant measures the default.
 */
const HSM_REFERENCE_ENV: Record<string, string> = { KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS: '1' };

const BENCH_KEYHAVEN_CONFIG: Record<string, Record<string, unknown>> = {
  limits: { maxKeys: 100_000_000 },
};

function integerEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

const listEnv = (name: string) =>
  process.env[name] ? process.env[name].split(',').map((item) => item.trim()) : undefined;

function readConfig(): BenchConfig {
  const smoke = process.env.BENCH_SMOKE === '1';
  const rounds = integerEnv('BENCH_ROUNDS', smoke ? 2 : 9, 1);
  const durationMs = integerEnv('BENCH_DURATION_MS', smoke ? 300 : 1000, 100);
  const warmupMs = integerEnv(
    'BENCH_WARMUP_MS',
    Math.min(1000, Math.max(100, Math.round(durationMs / 3))),
    0,
  );
  const concurrencies = (listEnv('BENCH_CONCURRENCY') ?? ['1', '16', '64']).map((c) => {
    const value = Number(c);
    if (!Number.isInteger(value) || value < 1 || value > 1024) {
      throw new Error(`BENCH_CONCURRENCY: "${c}" is not a concurrency between 1 and 1024`);
    }
    return value;
  });
  const requested = listEnv('BENCH_OPS') ?? [...OPERATIONS];
  for (const op of requested) {
    if (!(OPERATIONS as readonly string[]).includes(op)) {
      throw new Error(`BENCH_OPS: unknown operation "${op}" (known: ${OPERATIONS.join(', ')})`);
    }
  }
  // The AEAD floor is the reference for encrypt, so it runs with it.
  const withFloor = requested.includes('encrypt') ? [...requested, 'aead-floor'] : requested;
  let operations = OPERATIONS.filter((op) => op === 'baseline' || withFloor.includes(op));

  const namedVariants = listEnv('BENCH_VARIANTS');
  for (const name of namedVariants ?? []) {
    if (name !== 'none' && !VARIANTS.some((v) => v.name === name)) {
      throw new Error(
        `BENCH_VARIANTS: unknown variant "${name}" (known: ${VARIANTS.map((v) => v.name).join(', ')})`,
      );
    }
  }
  for (const variant of VARIANTS) {
    const problem = variantProblem(variant);
    if (problem) throw new Error(`bench/variants.ts: ${problem}`);
  }
  const compared = checkoutVariants(process.env.BENCH_COMPARE_CHECKOUT);
  for (const variant of compared) {
    if (!existsSync(join(variant.checkout!, 'dist', 'src', 'server.js'))) {
      throw new Error(`BENCH_COMPARE_CHECKOUT: ${variant.checkout} has no dist/: run "npm run build" there`);
    }
  }
  let variants = [...VARIANTS, ...compared]
    .filter((v) => !namedVariants || namedVariants.includes(v.name) || compared.includes(v))
    .map((v) => ({ ...v, operations: v.operations.filter((op) => operations.includes(op)) }))
    .filter((v) => v.operations.length > 0)
    .filter((v) => {
      if (variantConcurrencies(v, concurrencies).length > 0) return true;
      process.stderr.write(
        `note: variant ${v.name} runs at concurrency ${v.concurrencies!.join('/')} only, which BENCH_CONCURRENCY leaves out.\n`,
      );
      return false;
    });
  if (variants.some((v) => v.database === 'postgres') && !postgresInstalled()) {
    if (variants.some((v) => v.database === 'postgres' && namedVariants?.includes(v.name))) {
      throw new Error('BENCH_VARIANTS names a PostgreSQL variant but postgresql is not installed');
    }
    process.stderr.write('note: PostgreSQL is not installed: skipping the PostgreSQL variants.\n');
    variants = variants.filter((v) => v.database !== 'postgres');
  }

  const wantsHsm =
    operations.some((op) => HSM_OPERATIONS.includes(op)) ||
    variants.some((v) => v.reference === 'keyhaven-hsm');
  const softHsmModule = wantsHsm ? findSoftHsmModule() : undefined;
  if (wantsHsm && !softHsmModule) {
    const namesHsm =
      (process.env.BENCH_OPS !== undefined && HSM_OPERATIONS.some((op) => requested.includes(op))) ||
      variants.some((v) => v.reference === 'keyhaven-hsm' && namedVariants?.includes(v.name));
    if (namesHsm) {
      throw new Error(
        'BENCH_OPS or BENCH_VARIANTS names an HSM row but libsofthsm2.so is not installed (softhsm2)',
      );
    }
    process.stderr.write('note: SoftHSM2 is not installed (libsofthsm2.so): skipping the HSM rows.\n');
    operations = operations.filter((op) => !HSM_OPERATIONS.includes(op));
    variants = variants.filter((v) => v.reference !== 'keyhaven-hsm');
  }
  return {
    rounds,
    durationMs,
    warmupMs,
    concurrencies,
    operations,
    variants,
    softHsmModule,
    hsmRawMs: integerEnv('BENCH_HSM_RAW_MS', Math.min(2000, 2 * durationMs), 100),
    hsmRawWarmupMs: Math.min(warmupMs, 250),
    hsmInFlight: integerEnv('BENCH_HSM_INFLIGHT', 16, 1),
    out: process.env.BENCH_OUT || resolveFromRoot('bench', 'results', 'latest.json'),
    profile: process.env.BENCH_PROFILE === '1',
    enforce: process.env.BENCH_ENFORCE === '1',
  };
}

/** The bench servers' configuration file: BENCH_KEYHAVEN_CONFIG, each section overlaid by `config`'s. */
function keyhavenConfig(config: Variant['config'] = {}): Record<string, Record<string, unknown>> {
  const merged = { ...BENCH_KEYHAVEN_CONFIG };
  for (const [section, values] of Object.entries(config)) merged[section] = { ...merged[section], ...values };
  return merged;
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
        log(formatRawRate(rate));
      }
    }
  } finally {
    const index = cleanups.indexOf(close);
    if (index >= 0) cleanups.splice(index, 1);
    await raw.close();
  }
  return rates;
}

/** Node flags of every server: BENCH_NODE_FLAGS (space-separated) and, with BENCH_PROFILE, --cpu-prof. */
function serverFlags(dir: string | undefined, name: string): string[] {
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
  if (!dir) return extra;
  const target = join(dir, name);
  mkdirSync(target, { recursive: true });
  return [...extra, '--cpu-prof', '--cpu-prof-dir', target];
}

/** `git describe` of the working tree, so a recorded run says which code it measured. */
function describeCommit(): string | undefined {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: resolveFromRoot(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

const loadAverage = () => loadavg().map((load) => Math.round(load * 100) / 100);

interface Servers {
  scenarios: Scenario[];
  hsmToken?: BenchToken;
  hsmKeys?: HsmKeys;
}

/** Starts every server (each registered for clean-up), creates the keys and checks every scenario. */
async function startServers(config: BenchConfig, profileDir: string | undefined): Promise<Servers> {
  const newToken = (): BenchToken => {
    const created = createSoftHsmToken(config.softHsmModule!);
    cleanups.push(() => created.dispose());
    return created;
  };
  const start = async (
    name: string,
    env: Record<string, string>,
    variant?: Variant,
    node?: Pick<KeyhavenSpawnOptions, 'credentials' | 'prepare'>,
  ) => {
    const server = await startKeyhaven({
      name,
      nodeFlags: serverFlags(profileDir, name),
      env: { ...env, ...variant?.env },
      config: keyhavenConfig(variant?.config),
      checkout: variant?.checkout,
      ...node,
    });
    cleanups.push(() => server.stop());
    return server;
  };

  let postgres: PostgresCluster | undefined;
  const database = async () => {
    if (!postgres) {
      const started = await startPostgres({ fsync: true });
      cleanups.push(() => started.remove());
      postgres = started;
    }
    return postgres;
  };

  const keyhaven = await start('keyhaven', {});
  const baseline = await startBaseline({ nodeFlags: serverFlags(profileDir, 'baseline') });
  cleanups.push(() => baseline.stop());
  let hsm: KeyhavenProcess | undefined;
  let hsmToken: BenchToken | undefined;
  if (config.operations.some((op) => HSM_OPERATIONS.includes(op))) {
    hsmToken = newToken();
    hsm = await start('keyhaven-hsm', { ...hsmToken.keyhavenEnv, ...HSM_REFERENCE_ENV });
  }
  let external: ExternalSetup | undefined;
  if (config.operations.some((op) => EXTERNAL_OPERATIONS.includes(op))) {
    // One provider process reached two ways (its REST API, its AWS dialect with SigV4): every
    // message's data key is wrapped twice, as with two providers (docs/external-keys.md).
    const provider = await start('keyhaven-provider', {});
    const providers = {
      providers: [
        {
          type: 'aws-kms',
          name: 'provider-aws',
          endpoint: provider.url,
          region: 'us-east-1',
          ...provider.accessKey,
        },
        { type: 'keyhaven', name: 'provider-rest', url: provider.url, token: provider.token },
      ],
    };
    const server = await startKeyhaven({
      name: 'keyhaven-external',
      nodeFlags: serverFlags(profileDir, 'keyhaven-external'),
      config: { ...keyhavenConfig(), keyStore: { external: providers } },
    });
    cleanups.push(() => server.stop());
    external = { server, provider };
  }
  const built = await buildScenarios(keyhaven, baseline, hsm, external);
  const scenarios = built.scenarios.filter((s) => config.operations.includes(s.operation));
  for (const variant of config.variants) {
    // An HSM variant gets a token of its own: two servers never share a token's objects.
    const env =
      variant.reference === 'keyhaven-hsm' ? { ...newToken().keyhavenEnv, ...HSM_REFERENCE_ENV } : {};
    if (variant.database === 'postgres') {
      const pg = await database();
      env.KEYHAVEN_DATABASE_URL = await pg.createDatabase(`bench_${variant.name.replace(/-/g, '_')}`);
      // The nodes share the root key as a cluster's do: one sealed file, one passphrase.
      env.KEYHAVEN_ROOT_PASSPHRASE = `bench-${randomBytes(12).toString('hex')}`;
    }
    const nodes = await startNodes(variant, env, start);
    const server = nodes[0]!;
    let own = await buildVariantScenarios(server, variant.name, variant.operations, variant.principal);
    if (nodes.length > 1 || variant.database === 'postgres') {
      own = own.map((scenario) => ({
        ...scenario,
        nodes,
        ...(variant.database === 'postgres' && postgres ? { database: postgres } : {}),
      }));
    }
    const filled = filledKeys.get(server);
    if (filled) {
      own = own.map((scenario) =>
        scenario.operation === 'encrypt'
          ? { ...scenario, bodies: spreadOverKeys(scenario.bodies, filled, KEY_REQUEST_POOL) }
          : scenario,
      );
    }
    // A variant's rows follow their reference rows, so the two are measured next to each other.
    for (const scenario of own) {
      const after = scenarios.reduce((last, s, i) => (s.operation === scenario.operation ? i : last), -1);
      scenarios.splice(after + 1, 0, scenario);
    }
  }
  for (const scenario of scenarios) await preflightNodes(scenario);
  return {
    scenarios,
    ...(hsmToken ? { hsmToken } : {}),
    ...(built.hsmKeys ? { hsmKeys: built.hsmKeys } : {}),
  };
}

/**
 * Requests in the pool of a row whose store was filled: each names one of the keys at random, and
 * each cell continues where the row's last stopped, so over a run most requests of a 100,000-key
 * row name a key none of the recent ones did. The same size for every filled row, so the load
 * generator walks through as much memory for 100 keys as for 100,000.
 */
const KEY_REQUEST_POOL = 50_000;

/** The keys each request of a server whose store `keys` filled names one of (`keysUsed`). */
const filledKeys = new WeakMap<KeyhavenProcess, string[]>();

/** One filled template data directory per number of keys, shared by the servers that want it. */
const filledStores = new Map<number, Promise<FilledStore>>();

function filledStore(count: number): Promise<FilledStore> {
  let store = filledStores.get(count);
  if (!store) {
    const began = performance.now();
    store = fillTemplate(count).then((filled) => {
      cleanups.push(() => filled.dispose());
      process.stderr.write(
        `  ${count.toLocaleString('en')} keys written to a store in ${((performance.now() - began) / 1000).toFixed(1)} s\n`,
      );
      return filled;
    });
    filledStores.set(count, store);
  }
  return store;
}

type StartServer = (
  name: string,
  env: Record<string, string>,
  variant?: Variant,
  node?: Pick<KeyhavenSpawnOptions, 'credentials' | 'prepare'>,
) => Promise<KeyhavenProcess>;

/**
 * The variant's server: one process, or its `nodes`, started one after another on the same
 * database with the same bootstrap admin. The first creates the sealed root key (and, with `keys`,
 * has its store filled before it starts); each further node gets a copy of that file before it
 * starts, as an operator copies it to every node.
 */
async function startNodes(
  variant: Variant,
  env: Record<string, string>,
  start: StartServer,
): Promise<KeyhavenProcess[]> {
  const count = variant.nodes ?? 1;
  const credentials = newCredentials();
  const name = (i: number) => `${variant.reference}@${variant.name}${count > 1 ? `#${i + 1}` : ''}`;
  const filled = variant.keys === undefined ? undefined : await filledStore(variant.keys);
  const first = await start(name(0), env, variant, {
    credentials,
    ...(filled ? { prepare: (dataDir: string) => filled.copyInto(dataDir) } : {}),
  });
  if (filled) {
    const used = filled.keyIds.slice(0, variant.keysUsed ?? filled.keyIds.length);
    filledKeys.set(first, used);
  }
  const nodes = [first];
  for (let i = 1; i < count; i++) {
    nodes.push(
      await start(name(i), env, variant, {
        credentials,
        prepare: (dataDir) => copyFileSync(join(first.dataDir, ROOT_KEY_FILE), join(dataDir, ROOT_KEY_FILE)),
      }),
    );
  }
  return nodes;
}

async function main(): Promise<number> {
  const config = readConfig();
  const log = (line: string) => process.stderr.write(line + '\n');
  const cpuList = cpus();
  const commit = describeCommit();
  const loadBefore = loadAverage();
  log(
    `keyhaven bench${commit ? ` at ${commit}` : ''}: node ${process.version}, ${cpuList.length} CPU(s) ` +
      `(${cpuList[0]?.model ?? 'unknown'}), load average ${loadBefore.join(' ')}; ${config.rounds} rounds of ` +
      `${config.durationMs} ms per cell after ${config.warmupMs} ms warm-up, concurrency ` +
      `${config.concurrencies.join('/')}`,
  );
  if (cpuList.length <= 2) {
    log('note: the load generator shares the CPU with the servers; compare ratios, not absolute figures.');
  }

  const profileDir = config.profile ? mkdtempSync(join(tmpdir(), 'keyhaven-bench-profile-')) : undefined;
  const samples = new SampleTable();
  const schedule: string[][] = [];
  let scenarios: Scenario[] = [];
  let rawRates: RawRate[] | undefined;
  let hsmToken: BenchToken | undefined;
  const started = performance.now();
  try {
    const servers = await startServers(config, profileDir);
    scenarios = servers.scenarios;
    hsmToken = servers.hsmToken;

    if (hsmToken && servers.hsmKeys) {
      const calls = config.operations.flatMap((op) => RAW_CALL_OF[op] ?? []);
      log(
        `  HSM ceiling: raw PKCS#11 on token "${hsmToken.label}", ${config.hsmRawMs} ms per call and mode, ` +
          `async with ${config.hsmInFlight} in flight`,
      );
      rawRates = await measureCeiling(config, hsmToken, servers.hsmKeys, calls, log);
    }

    const runsAt = (scenario: Scenario, concurrency: number) => {
      const variant = config.variants.find((v) => v.name === scenario.variant);
      return !variant || variantConcurrencies(variant, config.concurrencies).includes(concurrency);
    };
    const cellCount = roundSchedule(scenarios, config.concurrencies, 0, runsAt).length;
    log(
      `  ${scenarios.length} rows × ${config.concurrencies.length} concurrencies: ${cellCount} cells per round`,
    );
    for (let round = 0; round < config.rounds; round++) {
      const roundStart = performance.now();
      const cells = roundSchedule(scenarios, config.concurrencies, round, runsAt);
      schedule.push(cells.map((cell) => `${rowLabel(cell.row)} c=${cell.concurrency}`));
      for (const { row: scenario, concurrency } of cells) {
        const sample = await measureCell(scenario, {
          concurrency,
          durationMs: config.durationMs,
          warmupMs: config.warmupMs,
        });
        samples.add(rowLabel(scenario), concurrency, sample);
        log(
          `  r${round + 1} ${rowLabel(scenario).padEnd(19)} c=${String(concurrency).padEnd(3)} ` +
            `${sample.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  ` +
            `p99 ${sample.p99Ms.toFixed(2)} ms  errors ${sample.errors}` +
            (sample.firstError ? `  (first: ${sample.firstError})` : ''),
        );
      }
      log(
        `  round ${round + 1}/${config.rounds} took ${((performance.now() - roundStart) / 1000).toFixed(0)} s, ` +
          `load average ${loadAverage().join(' ')}`,
      );
    }
  } finally {
    await cleanUp();
  }
  const elapsedMs = performance.now() - started;
  const loadAfter = loadAverage();

  const results = buildResults(scenarios, config.concurrencies, samples);
  const rows = scenarios.map(rowLabel);
  const definitions = ratioDefinitions(rows, config.variants);
  const ratios = buildRatios(definitions, config.concurrencies, samples);
  const targets = checkTargets(ratios, (row, concurrency) => samples.errors(row, concurrency));
  const hsmCeiling: HsmCeiling | undefined =
    rawRates && hsmToken
      ? {
          token: `SoftHSM2 ${softHsmVersion()}`,
          module: hsmToken.modulePath,
          durationMs: config.hsmRawMs,
          warmupMs: config.hsmRawWarmupMs,
          raw: rawRates.map((r) => ({ ...r, description: RAW_CALLS[r.call] })),
          ratios: ceilingRatios(results, rawRates),
        }
      : undefined;

  console.log('');
  console.log(
    `${config.rounds} interleaved rounds of ${config.durationMs} ms per cell; medians of the rounds` +
      `${commit ? `, commit ${commit}` : ''}, load average ${loadBefore.join(' ')} before and ` +
      `${loadAfter.join(' ')} after, ${(elapsedMs / 60_000).toFixed(1)} min`,
  );
  console.log('');
  console.log(formatResults(results));
  console.log('');
  console.log(
    'req/s, p50, p99, CPU: medians of the per-round values; IQR % and range % = (q3 - q1) and ' +
      '(max - min) of the per-round req/s, as % of the median. rps ratio = req/s ÷ baseline req/s, ' +
      'p50 ratio = p50 ÷ baseline p50, cpu ratio = baseline CPU per request ÷ CPU per request, floor ' +
      'ratio = req/s ÷ aead-floor req/s: each computed within a round, at the same concurrency, then ' +
      'the median of the rounds.',
  );
  console.log('');
  console.log(formatRatios(ratios));
  console.log('');
  console.log('Ratios of req/s, round by round, then summarised over the rounds:');
  console.log(formatLegend(definitions, config.variants));
  if (hsmCeiling) {
    console.log('');
    console.log(formatCeiling(hsmCeiling));
    console.log('');
    console.log(
      'ratio to sync = median req/s ÷ raw ops/s of one synchronous loop; ratio to async = median req/s ÷ ' +
        'raw ops/s with the async calls the server uses, many in flight. 1.00 = the token, not Keyhaven, ' +
        'is the limit.',
    );
  }
  console.log('');
  for (const check of targets) console.log(`${check.pass ? 'PASS' : 'FAIL'} ${check.name}: ${check.detail}`);
  const targetConcurrencies = new Set(TARGETS.flatMap((t) => t.concurrencies));
  for (const ratio of ratios) {
    if (ratio.kind !== 'bare-route' || !targetConcurrencies.has(ratio.concurrency)) continue;
    const meaning = definitions.find((d) => d.name === ratio.name)?.meaning;
    console.log(
      `INFO ${ratio.name} at concurrency ${ratio.concurrency}: median ${ratio.summary.median.toFixed(2)} ` +
        `(min–max ${ratio.summary.min.toFixed(2)}–${ratio.summary.max.toFixed(2)}): ${meaning}`,
    );
  }

  mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(
    config.out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        ...(commit ? { commit } : {}),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model,
        loadAverage: { before: loadBefore, after: loadAfter },
        elapsedMs,
        rounds: config.rounds,
        durationMs: config.durationMs,
        warmupMs: config.warmupMs,
        concurrencies: config.concurrencies,
        /** The cells of each round in the order they ran. */
        schedule,
        variants: config.variants,
        results,
        ratios,
        ...(hsmCeiling ? { hsmCeiling } : {}),
        targets,
      },
      (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 1000) / 1000 : value),
      2,
    ) + '\n',
  );
  console.log(`results written to ${config.out}`);

  if (profileDir) {
    for (const name of readdirSync(profileDir)) {
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
 * token directories (after the servers using them have stopped).
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
