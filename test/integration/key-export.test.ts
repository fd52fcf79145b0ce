// Key export, backup and restore over real HTTP with real server processes (issue 15, item 5).
// Exported material is opened with node:crypto alone and then used locally against what the server
// made; a backup from server A restores into server B (its own data directory, so its own root
// key) and into server C, a copy of A's deployment that shares the key sealing the bundle.
import {
  constants,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  privateDecrypt,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIPHERTEXT_HEADER_LENGTH, openingData, parseCiphertext } from '../../src/domain/ciphertext.js';
import { encodeContext } from '../../src/domain/encryption-context.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError, unb64 } from './http.js';
import { BUNDLE_PASSPHRASE, bundleOfNewKey } from './action-catalogue.js';
import { attach, createActor, createPolicy } from './identity-fixtures.js';
import { createKey, serverErrorLines } from './suite-server.js';
import type { KeyReply, KeyView } from './wire-types.js';

const PASSPHRASE = 'correct horse battery staple';

/** A Keyhaven key policy that lets nobody in. */
const NOBODY_POLICY = {
  statements: [
    {
      sid: 'nobody',
      effect: 'allow',
      principals: ['principal:nobody'],
      actions: ['Decrypt'],
      resources: ['*'],
    },
  ],
};

/** A bundled key policy: NOBODY_POLICY, and the AWS text given as its source. */
const policyWith = (awsSource: unknown) => ({ document: NOBODY_POLICY, awsSource });

interface ExportReply {
  keyId: string;
  keySpec: string;
  wrappingAlgorithm: string;
  versions: { version: number; keyMaterialType: string; encryptedKeyMaterial: string; publicKey?: string }[];
}

interface BackupReply {
  bundle: string;
  keyIds: string[];
}

function rsaPair(modulusLength: number): { publicKey: Buffer; privateKey: KeyObject } {
  const pair = generateKeyPairSync('rsa', { modulusLength });
  return { publicKey: pair.publicKey.export({ type: 'spki', format: 'der' }), privateKey: pair.privateKey };
}

/** The reverse of BYOK wrapping, in node:crypto only: RSA-OAEP, then AES-KWP (RFC 5649) if present. */
function unwrapExported(privateKey: KeyObject, algorithm: string, wrapped: Buffer): Buffer {
  const hash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const oaep = (data: Buffer) =>
    privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return oaep(wrapped);
  const modulusBytes = privateKey.asymmetricKeyDetails!.modulusLength! / 8;
  const aesKey = oaep(wrapped.subarray(0, modulusBytes));
  const kwp = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([kwp.update(wrapped.subarray(modulusBytes)), kwp.final()]);
}

/** Decrypts a Keyhaven ciphertext with raw AES-256 material, as the server would (docs/api.md format). */
function decryptLocally(material: Buffer, ciphertext: Buffer, context: Record<string, string>): Buffer {
  const parsed = parseCiphertext(ciphertext);
  const aad = openingData(parsed.header, encodeContext(context, CIPHERTEXT_HEADER_LENGTH));
  const decipher = createDecipheriv('aes-256-gcm', material, parsed.iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(parsed.tag);
  return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
}

const exportPath = (keyId: string, spki: Buffer, query: Record<string, string> = {}) =>
  `/v1/keys/${keyId}/export?${new URLSearchParams({ wrappingPublicKey: b64(spki), ...query })}`;

describe('key export and backup over REST', () => {
  let a: TestServer;
  let b: TestServer;
  let c: TestServer | undefined;
  let cDir: string;
  let apiA: Api;
  let apiB: Api;
  let apiC: Api;
  let sealingKey: KeyView;
  const wrapping = rsaPair(3072);

  beforeAll(async () => {
    a = await startServer();
    apiA = new Api(a.url, a.token);
    // C is a second deployment sharing A's root key and the key that seals bundles: a copy of A's
    // data directory made while A is stopped, before the keys to back up exist.
    sealingKey = await createKey(apiA, { description: 'seals bundles' });
    await a.stop();
    cDir = mkdtempSync(join(tmpdir(), 'keyhaven-restore-'));
    cpSync(a.dataDir, cDir, { recursive: true });
    await a.restart();
    [b, c] = await Promise.all([
      startServer(),
      startServer({ dataDir: cDir, env: { KEYHAVEN_ADMIN_TOKEN: a.token } }),
    ]);
    apiB = new Api(b.url, b.token);
    apiC = new Api(c.url, a.token);
  });
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose(), c?.dispose()]);
    if (cDir) rmSync(cDir, { recursive: true, force: true });
  });

  describe('export', () => {
    it('wraps a symmetric key to the caller: the material opened with node:crypto decrypts the server ciphertexts of every version', async () => {
      const key = await createKey(apiA, { exportable: true });
      const context = { purpose: 'export-test' };
      const first = await apiA.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('made under version 1'),
        context,
      });
      await apiA.ok('POST', `/v1/keys/${key.keyId}/rotate`);
      const second = await apiA.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('made under version 2'),
        context,
      });

      const exported = await apiA.ok<ExportReply>(
        'GET',
        exportPath(key.keyId, wrapping.publicKey, { version: 'all' }),
      );
      expect(exported).toMatchObject({
        keyId: key.keyId,
        keySpec: 'SYMMETRIC_DEFAULT',
        wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
      });
      expect(exported.versions.map((v) => [v.version, v.keyMaterialType])).toEqual([
        [1, 'SYMMETRIC'],
        [2, 'SYMMETRIC'],
      ]);
      const material = exported.versions.map((v) =>
        unwrapExported(wrapping.privateKey, exported.wrappingAlgorithm, unb64(v.encryptedKeyMaterial)),
      );
      expect(material.map((m) => m.length)).toEqual([32, 32]);
      expect(decryptLocally(material[0]!, unb64(first.ciphertext), context).toString()).toBe(
        'made under version 1',
      );
      expect(decryptLocally(material[1]!, unb64(second.ciphertext), context).toString()).toBe(
        'made under version 2',
      );
      expect(() => decryptLocally(material[0]!, unb64(second.ciphertext), context)).toThrow();

      // The default is the current version only, and RSAES_OAEP_SHA_1 fits 32 bytes.
      const current = await apiA.ok<ExportReply>(
        'GET',
        exportPath(key.keyId, wrapping.publicKey, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }),
      );
      expect(current.versions.map((v) => v.version)).toEqual([2]);
      expect(
        unwrapExported(
          wrapping.privateKey,
          'RSAES_OAEP_SHA_1',
          unb64(current.versions[0]!.encryptedKeyMaterial),
        ),
      ).toEqual(material[1]);
    });

    it.each([
      ['ECC_NIST_P256', 'ECDSA_SHA_256', 'RSAES_OAEP_SHA_256'],
      ['RSA_2048', 'RSASSA_PSS_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1'],
    ])(
      'exports a %s signing key as PKCS#8: a signature made locally with it verifies through Keyhaven',
      async (keySpec, algorithm, wrappingAlgorithm) => {
        const key = await createKey(apiA, { keySpec, keyUsage: 'SIGN_VERIFY', exportable: true });
        const exported = await apiA.ok<ExportReply>(
          'GET',
          exportPath(key.keyId, wrapping.publicKey, { wrappingAlgorithm }),
        );
        const version = exported.versions[0]!;
        expect(version.keyMaterialType).toBe('PRIVATE_KEY');
        const pkcs8 = unwrapExported(
          wrapping.privateKey,
          wrappingAlgorithm,
          unb64(version.encryptedKeyMaterial),
        );
        const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
        const message = Buffer.from('signed outside Keyhaven');
        const signature =
          keySpec === 'RSA_2048'
            ? nodeSign('sha256', message, {
                key: privateKey,
                padding: constants.RSA_PKCS1_PSS_PADDING,
                saltLength: 32,
              })
            : nodeSign('sha256', message, privateKey);
        const verified = await apiA.ok<{ valid: boolean }>('POST', '/v1/verify', {
          keyId: key.keyId,
          message: b64(message),
          algorithm,
          signature: b64(signature),
        });
        expect(verified.valid).toBe(true);
        const publicKey = await apiA.ok<{ spki: string }>('GET', `/v1/keys/${key.keyId}/public-key`);
        expect(version.publicKey).toBe(publicKey.spki);
      },
    );

    it('refuses a key not created exportable (409 Conflict), a wrapping key under 2048 bits or not RSA (400), and material too long for RSAES_OAEP (400)', async () => {
      const plain = await createKey(apiA);
      expectError(await apiA.get(exportPath(plain.keyId, wrapping.publicKey)), 409, 'Conflict');
      const exportable = await createKey(apiA, {
        keySpec: 'RSA_3072',
        keyUsage: 'SIGN_VERIFY',
        exportable: true,
      });
      expectError(
        await apiA.get(exportPath(exportable.keyId, rsaPair(1024).publicKey)),
        400,
        'ValidationError',
      );
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      expectError(await apiA.get(exportPath(exportable.keyId, ec)), 400, 'ValidationError');
      expectError(
        await apiA.get(
          exportPath(exportable.keyId, wrapping.publicKey, { wrappingAlgorithm: 'RSAES_OAEP_SHA_256' }),
        ),
        400,
        'ValidationError',
      );
      expectError(
        await apiA.get(exportPath(exportable.keyId, Buffer.from('not a key'))),
        400,
        'ValidationError',
      );
    });

    it('is decided by policy: a crypto-user is denied ExportKey, a policy allowing it on the key lets the same principal export', async () => {
      const key = await createKey(apiA, { exportable: true });
      const actor = await createActor(apiA, 'default', ['crypto-user']);
      expectError(await actor.api.get(exportPath(key.keyId, wrapping.publicKey)), 403, 'AccessDenied');
      const policy = await createPolicy(apiA, 'default', {
        statements: [
          {
            effect: 'allow',
            principals: [`principal:${actor.principal.principalId}`],
            actions: ['ExportKey'],
            resources: [`key:${key.keyId}`],
          },
        ],
      });
      await attach(apiA, actor.principal.principalId, [policy.policyId]);
      const exported = await actor.api.ok<ExportReply>('GET', exportPath(key.keyId, wrapping.publicKey));
      expect(exported.versions).toHaveLength(1);
      const records = await apiA.ok<{ records: { action: string; result: string; keyId?: string }[] }>(
        'GET',
        `/v1/logs?action=ExportKey&keyId=${key.keyId}`,
      );
      expect(records.records.map((r) => r.result)).toEqual(['deny', 'allow']);
    });
  });

  describe('backup and restore', () => {
    let rotated: KeyView;
    let signer: KeyView;
    let mac: KeyView;
    const made: { ciphertexts: { ciphertext: string; plaintext: string }[]; signature: string; mac: string } =
      {
        ciphertexts: [],
        signature: '',
        mac: '',
      };
    let bundle: string;

    beforeAll(async () => {
      rotated = await createKey(apiA, {
        alias: `alias/backup-${Date.now()}`,
        description: 'rotated once',
        tags: { team: 'payments' },
        rotationPeriodDays: 180,
      });
      await apiA.ok('PUT', `/v1/keys/${rotated.keyId}/policy`, {
        document: {
          statements: [
            {
              sid: 'nobody',
              effect: 'allow',
              principals: ['principal:nobody'],
              actions: ['Decrypt'],
              resources: ['*'],
            },
          ],
        },
      });
      for (const plaintext of ['before rotation', 'after rotation']) {
        const sealed = await apiA.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
          keyId: rotated.keyId,
          plaintext: b64(plaintext),
        });
        made.ciphertexts.push({ ciphertext: sealed.ciphertext, plaintext });
        if (plaintext === 'before rotation') await apiA.ok('POST', `/v1/keys/${rotated.keyId}/rotate`);
      }
      signer = await createKey(apiA, { keySpec: 'ECC_NIST_P384', keyUsage: 'SIGN_VERIFY' });
      made.signature = (
        await apiA.ok<{ signature: string }>('POST', '/v1/sign', {
          keyId: signer.keyId,
          message: b64('backed up'),
          algorithm: 'ECDSA_SHA_384',
        })
      ).signature;
      mac = await createKey(apiA, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
      await apiA.ok('POST', `/v1/keys/${mac.keyId}/disable`);
      await apiA.ok('POST', `/v1/keys/${mac.keyId}/enable`);
      made.mac = (
        await apiA.ok<{ mac: string }>('POST', '/v1/mac', {
          keyId: mac.keyId,
          message: b64('backed up'),
          algorithm: 'HMAC_SHA_256',
        })
      ).mac;
      const backup = await apiA.ok<BackupReply>('POST', '/v1/keys/backup', {
        keyIds: [rotated.keyId, signer.keyId, mac.keyId],
        passphrase: PASSPHRASE,
      });
      expect(backup.keyIds).toEqual([rotated.keyId, signer.keyId, mac.keyId]);
      bundle = backup.bundle;
    });

    const absentOnB = async () => {
      for (const key of [rotated, signer, mac])
        expectError(await apiB.get(`/v1/keys/${key.keyId}`), 404, 'NotFound');
    };

    it('refuses a wrong passphrase (400 InvalidCiphertext) and a flipped byte anywhere (400), restoring nothing', async () => {
      expectError(
        await apiB.post('/v1/keys/restore', { bundle, passphrase: 'not the passphrase at all' }),
        400,
        'InvalidCiphertext',
      );
      const bytes = unb64(bundle);
      for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const flipped = Buffer.from(bytes);
        flipped[at]! ^= 0x01;
        const response = await apiB.post('/v1/keys/restore', {
          bundle: b64(flipped),
          passphrase: PASSPHRASE,
        });
        expect(response.status, response.text).toBe(400);
        expect(['InvalidCiphertext', 'ValidationError']).toContain(
          (response.body as { error: { code: string } }).error.code,
        );
      }
      expectError(await apiB.post('/v1/keys/restore', { bundle }), 400, 'ValidationError');
      await absentOnB();
    });

    it('restores into another deployment: same ids, versions and metadata; ciphertexts, signatures and MACs from A work on B', async () => {
      const restored = await apiB.post<{ keys: KeyView[] }>('/v1/keys/restore', {
        bundle,
        passphrase: PASSPHRASE,
      });
      expect(restored.status, restored.text).toBe(201);
      expect(restored.body.keys.map((k) => k.keyId)).toEqual([rotated.keyId, signer.keyId, mac.keyId]);
      for (const key of [rotated, signer, mac]) {
        const [onA, onB] = await Promise.all([
          apiA.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`),
          apiB.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`),
        ]);
        expect(onB.key).toEqual(onA.key);
        const [versionsA, versionsB] = await Promise.all([
          apiA.ok('GET', `/v1/keys/${key.keyId}/versions`),
          apiB.ok('GET', `/v1/keys/${key.keyId}/versions`),
        ]);
        expect(versionsB).toEqual(versionsA);
      }
      const [policyA, policyB] = await Promise.all([
        apiA.ok('GET', `/v1/keys/${rotated.keyId}/policy`),
        apiB.ok('GET', `/v1/keys/${rotated.keyId}/policy`),
      ]);
      expect(policyB).toEqual(policyA);
      for (const { ciphertext, plaintext } of made.ciphertexts) {
        const opened = await apiB.ok<{ plaintext: string }>('POST', '/v1/decrypt', { ciphertext });
        expect(unb64(opened.plaintext).toString()).toBe(plaintext);
      }
      const verified = await apiB.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: signer.keyId,
        message: b64('backed up'),
        algorithm: 'ECDSA_SHA_384',
        signature: made.signature,
      });
      expect(verified.valid).toBe(true);
      const macVerified = await apiB.ok<{ valid: boolean }>('POST', '/v1/mac/verify', {
        keyId: mac.keyId,
        message: b64('backed up'),
        algorithm: 'HMAC_SHA_256',
        mac: made.mac,
      });
      expect(macVerified.valid).toBe(true);
    });

    it('leaves an audit record naming each key of a backup and of a restore, all of the one request', async () => {
      type Logs = { records: { keyId?: string; action: string; result: string; requestId: string }[] };
      const recordsOf = async (api: Api, keyId: string, action: string) =>
        (await api.ok<Logs>('GET', `/v1/logs?keyId=${keyId}&action=${action}&limit=10`)).records;
      for (const [api, action] of [
        [apiA, 'BackupKey'],
        [apiB, 'RestoreKey'],
      ] as const) {
        const requestIds = new Set<string>();
        for (const key of [rotated, signer, mac]) {
          const records = await recordsOf(api, key.keyId, action);
          const allowed = records.filter((r) => r.result === 'allow');
          expect(allowed, `${action} of ${key.keyId}`).toHaveLength(1);
          requestIds.add(allowed[0]!.requestId);
        }
        expect(requestIds.size).toBe(1);
      }
      const verified = await apiB.ok<{ valid: boolean }>('GET', '/v1/logs/verify');
      expect(verified.valid).toBe(true);
    });

    it('refuses a bundle naming a key id that exists (409 Conflict) and restores none of its keys', async () => {
      const fresh = await createKey(apiA, { description: 'new on A' });
      const mixed = await apiA.ok<BackupReply>('POST', '/v1/keys/backup', {
        keyIds: [fresh.keyId, rotated.keyId],
        passphrase: PASSPHRASE,
      });
      expectError(
        await apiB.post('/v1/keys/restore', { bundle: mixed.bundle, passphrase: PASSPHRASE }),
        409,
        'Conflict',
      );
      expectError(await apiB.get(`/v1/keys/${fresh.keyId}`), 404, 'NotFound');
    });

    it('seals a bundle under a Keyhaven key: it restores where that key exists (a copy of the deployment), and nowhere else', async () => {
      const key = await createKey(apiA, {
        keySpec: 'HMAC_384',
        keyUsage: 'GENERATE_VERIFY_MAC',
        description: 'key-sealed',
      });
      const made = await apiA.ok<{ mac: string }>('POST', '/v1/mac', {
        keyId: key.keyId,
        message: b64('sealed'),
        algorithm: 'HMAC_SHA_384',
      });
      const sealed = await apiA.ok<BackupReply>('POST', '/v1/keys/backup', {
        keyIds: [key.keyId],
        wrappingKeyId: sealingKey.keyId,
      });
      // B lacks the sealing key: its data key is a ciphertext of an unknown key there.
      expectError(await apiB.post('/v1/keys/restore', { bundle: sealed.bundle }), 400, 'InvalidCiphertext');
      expectError(
        await apiC.post('/v1/keys/restore', { bundle: sealed.bundle, passphrase: PASSPHRASE }),
        400,
        'ValidationError',
      );
      expectError(await apiA.post('/v1/keys/restore', { bundle: sealed.bundle }), 409, 'Conflict');
      const restored = await apiC.post<{ keys: KeyView[] }>('/v1/keys/restore', { bundle: sealed.bundle });
      expect(restored.status, restored.text).toBe(201);
      const verified = await apiC.ok<{ valid: boolean }>('POST', '/v1/mac/verify', {
        keyId: key.keyId,
        message: b64('sealed'),
        algorithm: 'HMAC_SHA_384',
        mac: made.mac,
      });
      expect(verified.valid).toBe(true);
    });

    it('is administrative: a key-admin or crypto-user may neither back up nor restore', async () => {
      for (const role of ['key-admin', 'crypto-user']) {
        const actor = await createActor(apiA, 'default', [role]);
        expectError(
          await actor.api.post('/v1/keys/backup', { keyIds: [mac.keyId], passphrase: PASSPHRASE }),
          403,
          'AccessDenied',
        );
        expectError(
          await actor.api.post('/v1/keys/restore', { bundle, passphrase: PASSPHRASE }),
          403,
          'AccessDenied',
        );
      }
    });

    it('refuses, as CreateKey would, a bundle whose key is malformed or impossible: 400, nothing restored', async () => {
      const spoilers: [string, (key: Record<string, unknown>) => void][] = [
        // A period CreateKey refuses: the rotation job would rotate the key without end.
        [
          'a negative rotation period',
          (k) => Object.assign(k, { rotationPeriodDays: -1, nextRotationAt: '2000-01-01T00:00:00Z' }),
        ],
        ['versions that are no list', (k) => (k.versions = 'abc')],
        ['tags with a value that is no string', (k) => (k.tags = { team: 7 })],
        ['a description that is no string', (k) => (k.description = { text: 'x' })],
        ['aliases that are no list', (k) => (k.aliases = 'alias/x')],
        [
          'a KEY_AGREEMENT key',
          (k) =>
            Object.assign(k, {
              keySpec: 'ECC_NIST_P256',
              keyUsage: 'KEY_AGREEMENT',
              versions: [],
              currentVersion: 0,
            }),
        ],
        [
          'an Enabled key without a current version',
          (k) => Object.assign(k, { versions: [], currentVersion: 0 }),
        ],
        [
          'a version twice',
          (k) => (k.versions = [...(k.versions as unknown[]), ...(k.versions as unknown[])]),
        ],
        [
          'a seal count that is no count',
          (k) => ((k.versions as Record<string, unknown>[])[0]!.sealsReserved = 'many'),
        ],
      ];
      for (const [what, spoil] of spoilers) {
        let keyId = '';
        const spoiled = await bundleOfNewKey((k) => {
          keyId = k.keyId as string;
          spoil(k);
        });
        const response = await apiB.post('/v1/keys/restore', {
          bundle: b64(spoiled),
          passphrase: BUNDLE_PASSPHRASE,
        });
        expect(response.status, `${what}: ${response.text}`).toBe(400);
        expectError(response, 400, 'ValidationError');
        expect((await apiB.get(`/v1/keys/${keyId}`)).status, what).toBe(404);
      }
      // The same checks as the write paths of each field (CreateKey, UpdateKey, PutKeyPolicy), each
      // refusal naming the field, and nothing of the bundle left: no key, alias or key policy.
      const awsPolicy = (statement: Record<string, unknown>) =>
        JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
      const fieldSpoilers: [string, string, (key: Record<string, unknown>) => void][] = [
        [
          'an awsSource that is no AWS policy text',
          'awsSource',
          (k) => (k.policy = policyWith('not a policy')),
        ],
        ['an awsSource that is no string', 'awsSource', (k) => (k.policy = policyWith(7))],
        [
          'an awsSource longer than PutKeyPolicy takes',
          'awsSource',
          (k) => (k.policy = policyWith(awsPolicy({ Sid: 'x'.repeat(33_000), Effect: 'Allow' }))),
        ],
        [
          'an awsSource naming an account that is not the tenant',
          'awsSource',
          (k) =>
            (k.policy = policyWith(
              awsPolicy({
                Effect: 'Allow',
                Principal: { AWS: 'arn:aws:iam::999999999999:root' },
                Action: 'kms:*',
                Resource: '*',
              }),
            )),
        ],
        [
          'a description longer than CreateKey takes',
          'description',
          (k) => (k.description = 'd'.repeat(8193)),
        ],
        [
          'more tags than CreateKey takes',
          'tags',
          (k) => (k.tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']))),
        ],
        ['a reserved alias', 'aliases', (k) => (k.aliases = ['alias/aws/s3'])],
        ['an origin that does not exist', 'origin', (k) => (k.origin = 'AWS_CLOUDHSM')],
        ['an expiry that has passed', 'expiresAt', (k) => (k.expiresAt = '2001-01-01T00:00:00Z')],
        ['a date that is no date', 'createdAt', (k) => (k.createdAt = 'yesterday')],
        [
          'a rotation period without its next rotation',
          'nextRotationAt',
          (k) => Object.assign(k, { rotationPeriodDays: 90, nextRotationAt: null }),
        ],
        ['an exportable flag that is no boolean', 'exportable', (k) => (k.exportable = 'yes')],
        [
          'a public key that is no SPKI (and a symmetric key has none)',
          'publicKeySpki',
          (k) => ((k.versions as Record<string, unknown>[])[0]!.publicKeySpki = b64('not a public key')),
        ],
        ['a symmetric key that claims to be verify-only', 'publicKeyOnly', (k) => (k.publicKeyOnly = true)],
        [
          'a fingerprint whose digest is no base64 text',
          'fingerprint',
          (k) =>
            ((k.versions as Record<string, unknown>[])[0]!.fingerprint = {
              digest: 12,
              secret: { offset: 0, length: 32 },
            }),
        ],
      ];
      for (const [what, field, spoil] of fieldSpoilers) {
        let keyId = '';
        const alias = `alias/spoiled-${Date.now()}-${field}`;
        const spoiled = await bundleOfNewKey((k) => {
          keyId = k.keyId as string;
          k.aliases = [alias];
          k.policy = policyWith(null);
          spoil(k);
        });
        const response = await apiB.post('/v1/keys/restore', {
          bundle: b64(spoiled),
          passphrase: BUNDLE_PASSPHRASE,
        });
        expect(response.status, `${what}: ${response.text}`).toBe(400);
        const error = expectError(response, 400, 'ValidationError');
        expect(error.message, what).toContain(field);
        expect((await apiB.get(`/v1/keys/${keyId}`)).status, what).toBe(404);
        const aliases = await apiB.ok<{ aliases: { aliasName: string }[] }>('GET', '/v1/aliases');
        expect(JSON.stringify(aliases), what).not.toContain(alias);
      }
      // The same bundle unspoiled restores: the refusals above are the spoilers' doing.
      const sound = await apiB.post('/v1/keys/restore', {
        bundle: b64(await bundleOfNewKey()),
        passphrase: BUNDLE_PASSPHRASE,
      });
      expect(sound.status, sound.text).toBe(201);
    });

    it("restores a key policy written in AWS's language as PutKeyPolicy would: from its source, never a document beside it", async () => {
      const source = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'root',
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::111122223333:root' }, // the default tenant's account (config)
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      });
      // The document beside the source would let nobody in: the source says otherwise.
      let keyId = '';
      const bundle = await bundleOfNewKey((k) => {
        keyId = k.keyId as string;
        k.policy = policyWith(source);
      });
      const restored = await apiB.post('/v1/keys/restore', {
        bundle: b64(bundle),
        passphrase: BUNDLE_PASSPHRASE,
      });
      expect(restored.status, restored.text).toBe(201);
      const kept = await apiB.ok<{ document: unknown }>('GET', `/v1/keys/${keyId}/policy`);
      const key = await createKey(apiB, { description: 'same policy, put' });
      const put = await apiB.ok<{ document: unknown }>('PUT', `/v1/keys/${key.keyId}/policy`, {
        document: JSON.parse(source) as unknown,
      });
      expect(kept.document).not.toEqual(NOBODY_POLICY);
      expect(JSON.stringify(kept.document).replaceAll(keyId, 'KEY')).toBe(
        JSON.stringify(put.document).replaceAll(key.keyId, 'KEY'),
      );
    });

    it('answered no request with a 5xx', async () => {
      for (const api of [apiA, apiB, apiC]) expect(await serverErrorLines(api)).toEqual([]);
    });
  });
});

describe('HSM keys (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let server: TestServer;
  let api: Api;

  beforeAll(async () => {
    hsm = createSoftHsm({ labelPrefix: 'keyhaven-export' });
    server = await startServer({ env: hsm.keyhavenEnv });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('refuses to export or back up an HSM key (409 UnsupportedOperation)', async () => {
    const spki = rsaPair(2048).publicKey;
    const sealed = await createKey(api, { protectionLevel: 'HSM' });
    const refused = expectError(await api.get(exportPath(sealed.keyId, spki)), 409, 'Conflict');
    expect(refused.message).toMatch(/not exportable|not created exportable/);
    expectError(
      await api.post('/v1/keys/backup', { keyIds: [sealed.keyId], passphrase: PASSPHRASE }),
      409,
      'Conflict',
    );
    // A SOFTWARE key beside it backs up (disaster recovery needs no exportable flag).
    const software = await createKey(api);
    expect(
      (await api.post('/v1/keys/backup', { keyIds: [software.keyId], passphrase: PASSPHRASE })).status,
    ).toBe(200);
  });

  it('refuses to create an exportable HSM key (400 ValidationError): the HSM never lets its material out', async () => {
    const before = (await api.get<{ keys: unknown[] }>('/v1/keys?limit=1000')).body.keys.length;
    const refused = expectError(
      await api.post('/v1/keys', { protectionLevel: 'HSM', exportable: true }),
      400,
      'ValidationError',
    );
    expect(refused.message).toMatch(/HSM keys cannot be exportable/);
    expect((await api.get<{ keys: unknown[] }>('/v1/keys?limit=1000')).body.keys).toHaveLength(before);
    // exportable: false is what an HSM key is anyway, and is accepted as such.
    const plain = await api.post<{ key: { exportable: boolean } }>('/v1/keys', {
      protectionLevel: 'HSM',
      exportable: false,
    });
    expect(plain.status, plain.text).toBe(201);
    expect(plain.body.key.exportable).toBe(false);
    // A restore is held to the same rule: a bundle (made elsewhere) asking for an exportable HSM key.
    let keyId = '';
    const asked = await bundleOfNewKey((k) => {
      keyId = k.keyId as string;
      Object.assign(k, { protectionLevel: 'HSM', exportable: true });
    });
    const restore = await api.post('/v1/keys/restore', { bundle: b64(asked), passphrase: BUNDLE_PASSPHRASE });
    expect(expectError(restore, 400, 'ValidationError').message).toMatch(/HSM keys cannot be exportable/);
    expectError(await api.get(`/v1/keys/${keyId}`), 404, 'NotFound');
    // And to CreateKey's rule on imported material: HSM keys take it for symmetric specs only.
    const external = await bundleOfNewKey((k) => {
      keyId = k.keyId as string;
      Object.assign(k, {
        protectionLevel: 'HSM',
        origin: 'EXTERNAL',
        keySpec: 'ECC_NIST_P256',
        keyUsage: 'SIGN_VERIFY',
      });
    });
    const importable = await api.post('/v1/keys/restore', {
      bundle: b64(external),
      passphrase: BUNDLE_PASSPHRASE,
    });
    expect(expectError(importable, 400, 'ValidationError').message).toMatch(
      /origin: .*key spec ECC_NIST_P256 is not importable/,
    );
    expectError(await api.get(`/v1/keys/${keyId}`), 404, 'NotFound');
  });
});
