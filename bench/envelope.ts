// The envelope rows: KmsIntegrationService (src/integration) in this process over a KeyhavenProvider
// reaching the benchmark's Keyhaven server through the SDK, with its data-key cache off and on. One
// "request" is one library call; the load is a closed loop of `concurrency` callers in this process.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KeyhavenClient } from '../src/client/index.js';
import { KeyhavenProvider, KmsIntegrationService, type Envelope } from '../src/integration/index.js';
import type { LoadResult } from './load.js';
import type { KeyhavenProcess } from './processes.js';
import type { Operation, Scenario } from './scenarios.js';

/** Work a scenario does in this process instead of replaying HTTP requests (see measure.ts). */
export interface InProcessWork {
  /** Runs request `index` of the pool (indices wrap at `poolSize`); throws on a wrong answer. */
  call(index: number): Promise<void>;
  poolSize: number;
}

const POOL_SIZE = 16;
const KEK = 'bench-envelope';

/**
 * A closed loop like runLoad's: `concurrency` callers, each starting its next call when the last
 * ends, for `durationMs`; a call that throws counts as an error.
 */
export async function runInProcess(
  work: InProcessWork,
  options: { concurrency: number; durationMs: number; firstRequest?: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = options.firstRequest ?? 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const caller = async () => {
    while (performance.now() < deadline) {
      const index = next++ % work.poolSize;
      sent++;
      const began = performance.now();
      try {
        await work.call(index);
        const ended = performance.now();
        if (ended <= deadline) latencies.push(ended - began);
      } catch (error) {
        errors++;
        firstError ??= `${(error as Error).name}: ${(error as Error).message}`.slice(0, 200);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  const elapsedMs = performance.now() - started;
  const sorted = Float64Array.from(latencies).sort();
  return {
    completed: sorted.length,
    sent,
    errors,
    elapsedMs,
    requestsPerSecond: (sorted.length * 1000) / options.durationMs,
    latenciesMs: sorted,
    ...(firstError ? { firstError } : {}),
  };
}

function envelopeScenario(
  target: KeyhavenProcess,
  operation: Operation,
  description: string,
  work: InProcessWork,
): Scenario {
  return {
    operation,
    description,
    target,
    method: 'POST',
    path: '(in process: KmsIntegrationService)',
    headers: {},
    bodies: [],
    expectStatus: 200,
    expectFields: [],
    inProcess: work,
  };
}

/**
 * envelope-encrypt (a fresh data key, AES-256-GCM here, the data key wrapped by Keyhaven's encrypt),
 * envelope-decrypt (Keyhaven's decrypt unwraps it, every time) and envelope-decrypt-cached (the
 * data-key cache on: after the first use of each of the pool's envelopes, no provider call).
 */
export async function envelopeScenarios(target: KeyhavenProcess): Promise<Scenario[]> {
  const client = new KeyhavenClient({ endpoint: target.url, token: target.token, timeoutMs: 10_000 });
  const provider = new KeyhavenProvider(client);
  const uncached = new KmsIntegrationService({ providers: { keyhaven: { provider } } });
  const created = await uncached.generateKey(KEK, { description: 'bench envelope KEK' });
  const keyRef = created.keys.keyhaven!.keyRef;
  // The same key, and a cache big enough for the pool: after one miss per envelope, only hits.
  const cached = new KmsIntegrationService({
    providers: { keyhaven: { provider, keys: { [KEK]: keyRef } } },
    envelopeCache: { ttl: 3_600_000, maxUses: Number.MAX_SAFE_INTEGER, maxEntries: POOL_SIZE },
  });
  // 256-byte messages, as the encrypt row's plaintexts.
  const messages = Array.from({ length: POOL_SIZE }, () => randomBytes(256));
  const envelopes: Envelope[] = [];
  for (const message of messages) envelopes.push(await uncached.envelopeEncrypt(message, KEK));
  const opens = async (service: KmsIntegrationService, index: number) => {
    const { plaintext } = await service.envelopeDecrypt(envelopes[index]!);
    if (!plaintext.equals(messages[index]!)) throw new Error('the envelope opened to other bytes');
  };
  // One correctness check per row before any load (as preflight does for the HTTP rows).
  await opens(uncached, 0);
  await opens(cached, 0);
  if (!(await cached.envelopeDecrypt(envelopes[0]!)).cached) {
    throw new Error('the data-key cache did not serve');
  }
  return [
    envelopeScenario(
      target,
      'envelope-encrypt',
      'KmsIntegrationService.envelopeEncrypt, 256 bytes, KEK at the Keyhaven server',
      {
        poolSize: POOL_SIZE,
        call: async (index) => {
          const envelope = await uncached.envelopeEncrypt(messages[index]!, KEK);
          if (envelope.wrappedKeys.length !== 1) throw new Error('the data key was not wrapped');
        },
      },
    ),
    envelopeScenario(
      target,
      'envelope-decrypt',
      'KmsIntegrationService.envelopeDecrypt, data-key cache off: one Keyhaven decrypt per call',
      {
        poolSize: POOL_SIZE,
        call: (index) => opens(uncached, index),
      },
    ),
    envelopeScenario(
      target,
      'envelope-decrypt-cached',
      'KmsIntegrationService.envelopeDecrypt, data-key cache on: the pool’s data keys cached',
      {
        poolSize: POOL_SIZE,
        call: (index) => opens(cached, index),
      },
    ),
  ];
}
