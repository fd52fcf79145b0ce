// Resource quotas over real HTTP: the key quota (limits.maxKeys) answers 429 LimitExceeded, as AWS
// KMS answers LimitExceededException, and leaves no partial state behind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, type Api } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';

describe.each(keyStoreProfiles)('quotas over REST ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;
  let configDir: string;

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'keyhaven-limits-'));
    const config = join(configDir, 'keyhaven.json');
    writeFileSync(config, JSON.stringify({ limits: { maxKeys: 2 } }));
    suite = await startSuiteServer(profile, { KEYHAVEN_CONFIG: config });
    api = suite.api;
  });

  afterAll(async () => {
    await suite?.server.dispose();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('refuses a key beyond limits.maxKeys with 429 LimitExceeded, creating nothing, alias included', async () => {
    await createKey(api, {});
    await createKey(api, { keySpec: 'ECC_NIST_P256' });
    const refused = await api.request('POST', '/v1/keys', { json: { alias: 'alias/over-quota' } });
    expectError(refused, 429, 'LimitExceeded');
    const listed = await api.ok<{ keys: unknown[] }>('GET', '/v1/keys');
    expect(listed.keys).toHaveLength(2);
    expectError(await api.request('GET', '/v1/keys/alias%2Fover-quota'), 404, 'NotFound');
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
