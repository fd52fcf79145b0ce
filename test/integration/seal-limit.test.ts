// The AES-GCM message bound over REST, on each key store (limits lowered in the configuration file):
// SOFTWARE and HSM keys rotate by themselves once a version has sealed aesGcmRotateAfter messages,
// and a key with imported material answers 429 LimitExceeded at aesGcmMaxMessages, and still decrypts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImportedKey } from './byok.js';
import { b64, expectError, type Api } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import type { KeyReply } from './wire-types.js';

const ROTATE_AFTER = 8;
const MAX_MESSAGES = 16;

interface Sealed {
  keyVersion: number;
  ciphertext: string;
}

describe.each(keyStoreProfiles)('the AES-GCM message bound over REST ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;

  beforeAll(async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'keyhaven-seal-config-')), 'keyhaven.json');
    writeFileSync(
      config,
      JSON.stringify({ limits: { aesGcmRotateAfter: ROTATE_AFTER, aesGcmMaxMessages: MAX_MESSAGES } }),
    );
    suite = await startSuiteServer(profile, { KEYHAVEN_CONFIG: config });
    api = suite.api;
  });
  afterAll(async () => {
    await suite?.server.dispose();
  });

  const encrypt = (keyId: string, text: string) =>
    api.post<Sealed>('/v1/encrypt', { keyId, plaintext: b64(text) });

  const levels: ('SOFTWARE' | 'HSM')[] = profile.name === 'pkcs11' ? ['SOFTWARE', 'HSM'] : ['SOFTWARE'];
  it.each(levels)('a %s key rotates by itself after aesGcmRotateAfter messages', async (protectionLevel) => {
    const key = await createKey(api, { protectionLevel });
    const sealed: Sealed[] = [];
    for (let i = 0; i < ROTATE_AFTER; i++) {
      const response = await encrypt(key.keyId, `m${i}`);
      expect(response.status, response.text).toBe(200);
      sealed.push(response.body);
    }
    await expect
      .poll(async () => (await api.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`)).key.currentVersion)
      .toBe(2);
    const later = await encrypt(key.keyId, 'after');
    expect(later.body.keyVersion).toBe(2);
    for (const [i, { ciphertext }] of sealed.entries()) {
      const opened = await api.ok<{ plaintext: string }>('POST', '/v1/decrypt', { ciphertext });
      expect(opened.plaintext).toBe(b64(`m${i}`));
    }
  });

  it('a key with imported material answers 429 LimitExceeded at aesGcmMaxMessages, and still decrypts', async () => {
    const key = await createImportedKey(api, { keySpec: 'SYMMETRIC_DEFAULT' }, randomBytes(32));
    const first = await encrypt(key.keyId, 'first');
    expect(first.status).toBe(200);
    for (let i = 1; i < MAX_MESSAGES; i++) expect((await encrypt(key.keyId, 'x')).status).toBe(200);
    expectError(await encrypt(key.keyId, 'one too many'), 429, 'LimitExceeded');
    expectError(await api.post('/v1/datakey', { keyId: key.keyId }), 429, 'LimitExceeded');
    const opened = await api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
      ciphertext: first.body.ciphertext,
    });
    expect(opened.plaintext).toBe(b64('first'));
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
