// Keyhaven and its REST app in the test's own process, on a loopback port over real HTTP (HTTPS when
// the configuration sets server.tls, as the server does), with a bootstrap admin token: for tests
// that need to see or change what lies behind the transport.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type KeyhavenConfig } from '../../src/config.js';
import type { CredentialKind } from '../../src/domain/request-context.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { loadServerTls } from '../../src/server-tls.js';
import { buildRestApp } from '../../src/transports/rest/app.js';

export interface InProcessApp {
  keyhaven: Keyhaven;
  app: FastifyInstance;
  url: string;
  token: string;
  /** Closes the app and Keyhaven and removes the data directory. */
  close(): Promise<void>;
}

export interface InProcessOptions {
  /** Changes the loaded configuration before Keyhaven starts. */
  configure?: (config: KeyhavenConfig) => void;
  /** Runs once Keyhaven has started, before the app is built (e.g. to observe its services). */
  prepare?: (keyhaven: Keyhaven) => void;
}

export async function startInProcessApp(options: InProcessOptions = {}): Promise<InProcessApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-in-process-'));
  const config = loadConfig({ KEYHAVEN_DATA_DIR: dataDir });
  options.configure?.(config);
  const keyhaven = await createKeyhaven(config);
  const token = `khk_${randomBytes(24).toString('hex')}`;
  await keyhaven.auth.bootstrapAdmin(token);
  options.prepare?.(keyhaven);
  const tls = config.server.tls;
  const app = await buildRestApp(keyhaven, { https: tls ? loadServerTls(tls) : undefined });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    keyhaven,
    app,
    url,
    token,
    async close() {
      await app.close();
      await keyhaven.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Records the credential kind of every encrypt's request context, as CryptoService receives it:
 * for `prepare`, to see how the caller authenticated from behind the transport.
 */
export function recordEncryptCredentials(keyhaven: Keyhaven): CredentialKind[] {
  const seen: CredentialKind[] = [];
  const encrypt = keyhaven.crypto.encrypt.bind(keyhaven.crypto);
  keyhaven.crypto.encrypt = (ctx, ...rest) => {
    seen.push(ctx.credential);
    return encrypt(ctx, ...rest);
  };
  return seen;
}
