// Start-up and restart over real processes: keys and ciphertexts persist, a sealed root key needs
// the right passphrase, and the bootstrap admin key is printed once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExpectingFailure, startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import type {
  DecryptReply,
  EncryptReply,
  KeyReply,
  MacReply,
  SignReply,
  UsageReply,
  ValidReply,
  VersionsReply,
} from './wire-types.js';

const PASSPHRASE = 'correct horse battery staple';
const BOOTSTRAP_KEY = /Bootstrap admin API key[^\n]*\n\s*(khk_[A-Za-z0-9_-]+)/;

describe.each(keyStoreProfiles)('restarts and start-up ($name key store)', (profile) => {
  describe('persistence', () => {
    let suite: SuiteServer;
    let api: Api;

    beforeAll(async () => {
      suite = await startSuiteServer(profile);
      api = suite.api;
    });
    afterAll(async () => {
      await suite?.server.dispose();
    });

    it('keys, versions, aliases, states, usage counters and ciphertexts survive a restart', async () => {
      const alias = `alias/persist-${Date.now()}`;
      const key = await createKey(api, { alias, description: 'persist', tags: { a: 'b' } });
      const v1 = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: alias,
        plaintext: b64('v1'),
        context: { c: '1' },
      });
      await api.ok('POST', `/v1/keys/${key.keyId}/rotate`);
      const v2 = await api.ok<EncryptReply>('POST', '/v1/encrypt', { keyId: alias, plaintext: b64('v2') });
      const signer = await createKey(api, { keySpec: 'ECC_NIST_P384' });
      const message = b64('persisted signature');
      const signed = await api.ok<SignReply>('POST', '/v1/sign', {
        keyId: signer.keyId,
        message,
        algorithm: 'ECDSA_SHA_384',
      });
      const hmac = await createKey(api, { keySpec: 'HMAC_512' });
      const mac = await api.ok<MacReply>('POST', '/v1/mac', {
        keyId: hmac.keyId,
        message,
        algorithm: 'HMAC_SHA_512',
      });
      const disabled = await createKey(api);
      await api.ok('POST', `/v1/keys/${disabled.keyId}/disable`);
      const pending = await createKey(api);
      await api.delete(`/v1/keys/${pending.keyId}?pendingWindowDays=9`);
      const ids = [key.keyId, signer.keyId, hmac.keyId, disabled.keyId, pending.keyId];
      const before = await Promise.all(ids.map((id) => api.ok<KeyReply>('GET', `/v1/keys/${id}`)));
      const usageBefore = await api.ok<UsageReply>('GET', `/v1/keys/${key.keyId}/usage`);
      const versionsBefore = await api.ok<VersionsReply>('GET', `/v1/keys/${key.keyId}/versions`);

      await suite.server.restart();

      const after = await Promise.all(ids.map((id) => api.ok<KeyReply>('GET', `/v1/keys/${id}`)));
      expect(after).toEqual(before);
      expect(after.map((r) => r.key.state)).toEqual([
        'Enabled',
        'Enabled',
        'Enabled',
        'Disabled',
        'PendingDeletion',
      ]);
      expect(await api.ok<VersionsReply>('GET', `/v1/keys/${key.keyId}/versions`)).toEqual(versionsBefore);
      expect((await api.ok<KeyReply>('GET', `/v1/keys/${encodeURIComponent(alias)}`)).key.keyId).toBe(
        key.keyId,
      );

      const opened1 = await api.ok<DecryptReply>('POST', '/v1/decrypt', {
        ciphertext: v1.ciphertext,
        context: { c: '1' },
      });
      const opened2 = await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext: v2.ciphertext });
      expect([opened1.plaintext, opened1.keyVersion, opened2.plaintext, opened2.keyVersion]).toEqual([
        b64('v1'),
        1,
        b64('v2'),
        2,
      ]);
      const verified = await api.ok<ValidReply>('POST', '/v1/verify', {
        keyId: signer.keyId,
        message,
        signature: signed.signature,
        algorithm: 'ECDSA_SHA_384',
      });
      expect(verified.valid).toBe(true);
      const macVerified = await api.ok<ValidReply>('POST', '/v1/mac/verify', {
        keyId: hmac.keyId,
        message,
        mac: mac.mac,
        algorithm: 'HMAC_SHA_512',
      });
      expect(macVerified.valid).toBe(true);
      // Counters pending in memory are flushed on a graceful shutdown.
      const usageAfter = await api.ok<UsageReply>('GET', `/v1/keys/${key.keyId}/usage`);
      expect(usageAfter.encrypt).toBe(usageBefore.encrypt);
      expect(usageAfter.decrypt).toBe(Number(usageBefore.decrypt ?? 0) + 2);
    });

    it('answered no request with a 5xx (/metrics, since the restart)', async () => {
      expect(await serverErrorLines(api)).toEqual([]);
    });
  });

  // Only the software store seals its root key under a passphrase; the pkcs11 root lives in the token.
  if (profile.passphraseSealedRootKey)
    describe('sealed root key', () => {
      let server: TestServer;

      afterAll(async () => {
        await server?.dispose();
      });

      it('a wrong or missing passphrase refuses to start with a clear message; the right one opens the keys', async () => {
        server = await startServer({ env: { ...profile.env, KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE } });
        const api = new Api(server.url, server.token);
        const rootKeyFile = JSON.parse(readFileSync(join(server.dataDir, 'root-key.json'), 'utf8')) as {
          sealed: boolean;
        };
        expect(rootKeyFile.sealed).toBe(true);
        const key = await createKey(api);
        const sealed = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
          keyId: key.keyId,
          plaintext: b64('sealed root'),
        });
        await server.stop();

        const base = {
          ...profile.env,
          KEYHAVEN_DATA_DIR: server.dataDir,
          KEYHAVEN_ADMIN_TOKEN: server.token,
        };
        const wrong = await startExpectingFailure({
          ...base,
          KEYHAVEN_ROOT_PASSPHRASE: 'not the passphrase',
        });
        expect(wrong.code, wrong.output).not.toBe(0);
        expect(wrong.code, wrong.output).not.toBeNull();
        expect(wrong.output).toMatch(/passphrase is wrong/);
        expect(wrong.output).not.toContain('not the passphrase');

        const missing = await startExpectingFailure(base);
        expect(missing.code, missing.output).not.toBe(0);
        expect(missing.code, missing.output).not.toBeNull();
        expect(missing.output).toMatch(/sealed; set KEYHAVEN_ROOT_PASSPHRASE/);

        await server.restart();
        const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext: sealed.ciphertext });
        expect(opened.plaintext).toBe(b64('sealed root'));
      });

      it('a passphrase on an unsealed data directory, or one under 8 characters, refuses to start', async () => {
        const unsealed = await startServer({ env: profile.env });
        await unsealed.stop();
        const base = {
          ...profile.env,
          KEYHAVEN_DATA_DIR: unsealed.dataDir,
          KEYHAVEN_ADMIN_TOKEN: unsealed.token,
        };
        const late = await startExpectingFailure({ ...base, KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE });
        expect(late.code, late.output).not.toBe(0);
        expect(late.output).toMatch(/not sealed/);
        const short = await startExpectingFailure({ ...base, KEYHAVEN_ROOT_PASSPHRASE: 'short' });
        expect(short.code, short.output).not.toBe(0);
        expect(short.output).toMatch(/at least 8 characters/);
        await unsealed.dispose();
      });
    });

  describe('bootstrap admin key', () => {
    let server: TestServer;

    afterAll(async () => {
      await server?.dispose();
    });

    it('without KEYHAVEN_ADMIN_TOKEN a generated admin key is printed once, works as a bearer token, and survives restarts', async () => {
      // The harness always sets KEYHAVEN_ADMIN_TOKEN; the configuration treats an empty value as unset.
      server = await startServer({ env: { ...profile.env, KEYHAVEN_ADMIN_TOKEN: '' } });
      const printed = BOOTSTRAP_KEY.exec(server.output())?.[1];
      expect(printed, server.output()).toBeDefined();
      const admin = new Api(server.url, printed!);
      expect((await admin.get('/v1/keys')).status).toBe(200);
      // The harness's own token was never registered on this data directory.
      expectError(await admin.get('/v1/keys', { token: server.token }), 401, 'Unauthenticated');

      await server.restart();
      expect(server.output()).not.toContain(printed!);
      expect(server.output()).not.toMatch(/Bootstrap admin API key/);
      expect((await admin.get('/v1/keys')).status).toBe(200);

      // Once an admin key exists, a token configured later does not add a second one.
      const late = `khk_late_${Date.now()}_0123456789`;
      await server.restart({ KEYHAVEN_ADMIN_TOKEN: late });
      expectError(await admin.get('/v1/keys', { token: late }), 401, 'Unauthenticated');
      expect((await admin.get('/v1/keys')).status).toBe(200);
    });
  });
});
