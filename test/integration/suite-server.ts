// Per-file set-up shared by the integration suite: one real server per key-store profile, a request
// helper bound to it, key creation, and the "no 500 ever" check on /metrics.
import { expect } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from './http.js';
import type { KeyStoreProfile } from './profiles.js';
import type { KeyReply, KeyView } from './wire-types.js';

export interface SuiteServer {
  server: TestServer;
  api: Api;
}

export async function startSuiteServer(
  profile: KeyStoreProfile,
  env: Record<string, string> = {},
): Promise<SuiteServer> {
  const server = await startServer({ env: { ...profile.env, ...env } });
  return { server, api: new Api(server.url, server.token) };
}

export interface CreateKeyInput {
  keySpec?: string;
  keyUsage?: string;
  alias?: string;
  description?: string;
  tags?: Record<string, string>;
  origin?: 'KEYHAVEN' | 'EXTERNAL';
  rotationPeriodDays?: number;
  expiresAt?: string;
  protectionLevel?: 'SOFTWARE' | 'HSM';
  exportable?: boolean;
}

export async function createKey(api: Api, input: CreateKeyInput = {}): Promise<KeyView> {
  const response = await api.post<KeyReply>('/v1/keys', input);
  expect(response.status, response.text).toBe(201);
  return response.body.key;
}

/** Lines of /metrics counting requests answered with a 5xx: API.md says a 500 is always a bug. */
export async function serverErrorLines(api: Api): Promise<string[]> {
  const response = await api.get('/metrics');
  expect(response.status).toBe(200);
  return response.text
    .split('\n')
    .filter((line) => line.startsWith('keyhaven_requests_total') && /status="5\d\d"/.test(line));
}
