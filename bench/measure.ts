// One measurement of one cell (a scenario at a concurrency) in one round: warm-up, then the measured
// closed-loop run, with the server's and this process's CPU time around it. A scenario on several
// nodes has its connections spread over them; its server CPU is that of every node (and of their
// database server, when they share one).
import { runInProcess } from './envelope.js';
import { percentile, runLoad, type LoadEndpoint, type LoadResult } from './load.js';
import { encodeScenario, nodesOf, type Scenario } from './scenarios.js';

export interface RoundSample {
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
}

export interface MeasureOptions {
  concurrency: number;
  durationMs: number;
  warmupMs: number;
}

/** Pre-encoded requests per scenario and node, so every round replays the same bytes. */
const encoded = new WeakMap<Scenario, LoadEndpoint[]>();
/**
 * Where each scenario's next run starts in its request pool: each run continues where the last
 * stopped, so a large pool (one key among 100,000 per request) is walked through, not replayed
 * from its start by every warm-up and measurement.
 */
const cursors = new WeakMap<Scenario, number>();

/** The CPU time of every process serving the scenario, or undefined if one cannot be read. */
function serverCpuMs(scenario: Scenario): number | undefined {
  let total = 0;
  for (const source of [...nodesOf(scenario), ...(scenario.database ? [scenario.database] : [])]) {
    const ms = source.cpuTimeMs();
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

export async function measureCell(scenario: Scenario, options: MeasureOptions): Promise<RoundSample> {
  const work = scenario.inProcess;
  if (work) {
    return measureRuns(scenario, options, async (ms) => {
      const firstRequest = cursors.get(scenario) ?? 0;
      const result = await runInProcess(work, {
        concurrency: options.concurrency,
        durationMs: ms,
        firstRequest,
      });
      cursors.set(scenario, (firstRequest + result.sent) % work.poolSize);
      return result;
    });
  }
  let endpoints = encoded.get(scenario);
  if (!endpoints) {
    endpoints = await Promise.all(
      nodesOf(scenario).map(async (node) => ({
        host: node.host,
        port: node.port,
        requests: await encodeScenario(scenario, node),
      })),
    );
    // Signed requests expire: those are signed again for every cell.
    if (!scenario.sign) encoded.set(scenario, endpoints);
  }
  const target = { endpoints, expectStatus: scenario.expectStatus };
  const pool = endpoints[0]!.requests.length;
  return measureRuns(scenario, options, async (ms) => {
    const firstRequest = cursors.get(scenario) ?? 0;
    const result = await runLoad(target, { concurrency: options.concurrency, durationMs: ms, firstRequest });
    cursors.set(scenario, (firstRequest + result.sent) % pool);
    return result;
  });
}

/** Warm-up, then the measured run, with the server's and this process's CPU time around it. */
async function measureRuns(
  scenario: Scenario,
  { durationMs, warmupMs }: MeasureOptions,
  run: (ms: number) => Promise<LoadResult>,
): Promise<RoundSample> {
  // Every cell warms up: the cell before it in the round ran another route, maybe on another server.
  if (warmupMs > 0) await run(warmupMs);
  const serverBefore = serverCpuMs(scenario);
  const clientBefore = process.cpuUsage();
  const load = await run(durationMs);
  const clientCpu = process.cpuUsage(clientBefore);
  const serverAfter = serverCpuMs(scenario);
  const served = Math.max(load.completed, 1);
  return {
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
        : ((serverAfter - serverBefore) * 1000) / served,
    clientCpuUsPerRequest: (clientCpu.user + clientCpu.system) / served,
  };
}
