// One measurement of one cell (a scenario at a concurrency) in one round: warm-up, then the measured
// closed-loop run, with the server's and this process's CPU time around it.
import { percentile, runLoad } from './load.js';
import { encodeScenario, type Scenario } from './scenarios.js';

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

/** Pre-encoded requests per scenario, so every round replays the same bytes. */
const encoded = new WeakMap<Scenario, Buffer[]>();

export async function measureCell(scenario: Scenario, options: MeasureOptions): Promise<RoundSample> {
  let requests = encoded.get(scenario);
  if (!requests) {
    requests = await encodeScenario(scenario);
    // Signed requests expire: those are signed again for every cell.
    if (!scenario.sign) encoded.set(scenario, requests);
  }
  const target = {
    host: scenario.target.host,
    port: scenario.target.port,
    requests,
    expectStatus: scenario.expectStatus,
  };
  const { concurrency, durationMs, warmupMs } = options;
  // Every cell warms up: the cell before it in the round ran another route, maybe on another server.
  if (warmupMs > 0) await runLoad(target, { concurrency, durationMs: warmupMs });
  const serverBefore = scenario.target.cpuTimeMs();
  const clientBefore = process.cpuUsage();
  const load = await runLoad(target, { concurrency, durationMs });
  const clientCpu = process.cpuUsage(clientBefore);
  const serverAfter = scenario.target.cpuTimeMs();
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
