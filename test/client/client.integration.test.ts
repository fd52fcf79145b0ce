// Every KeyhavenClient method against a real server process over HTTP (test/helpers/server.ts).
// Results are checked against node:crypto where the math allows (signatures, public keys, imports).
import {
  constants,
  createHash,
  createPublicKey,
  createPrivateKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  sign as localSign,
  verify as localVerify,
  createDecipheriv,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeyhavenClient,
  KeyhavenError,
  encryptKeyMaterialForImport,
  isBatchError,
  type KeyMetadata,
} from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: KeyhavenClient;

beforeAll(async () => {
  server = await startServer();
  client = new KeyhavenClient({ endpoint: server.url, token: server.token });
});

afterAll(async () => {
  await server?.dispose();
});

async function expectKeyhavenError(
  promise: Promise<unknown>,
  code: string,
  status?: number,
): Promise<KeyhavenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyhavenError);
  const keyhavenError = error as KeyhavenError;
  expect(keyhavenError.code).toBe(code);
  if (status !== undefined) expect(keyhavenError.status).toBe(status);
  return keyhavenError;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('operations endpoints', () => {
  it('reports health and readiness', async () => {
    expect((await client.health()).ok).toBe(true);
    expect((await client.ready()).ok).toBe(true);
  });

  it('serves Prometheus metrics text and the OpenAPI document', async () => {
    await client.random(4);
    expect(await client.metrics()).toMatch(/^# (HELP|TYPE) /m);
    const openapi = await client.openapi();
    expect(String(openapi.openapi)).toMatch(/^3\.1/);
    expect(Object.keys(openapi.paths as object)).toContain('/v1/encrypt');
  });
});

describe('errors', () => {
  it('an unknown key is NotFound (404) with a request id', async () => {
    const error = await expectKeyhavenError(
      client.getKey('00000000-0000-4000-8000-000000000000'),
      'NotFound',
      404,
    );
    expect(error.requestId).toBeTruthy();
  });

  it('a wrong token is Unauthenticated (401)', async () => {
    const stranger = new KeyhavenClient({ endpoint: server.url, token: 'khk_wrong_token_0000000000' });
    await expectKeyhavenError(stranger.listKeys(), 'Unauthenticated', 401);
  });

  it('a refused connection is Unavailable', async () => {
    const offline = new KeyhavenClient({ endpoint: 'http://127.0.0.1:1', token: server.token });
    await expectKeyhavenError(offline.health(), 'Unavailable');
  });
});

describe('key lifecycle', () => {
  let key: KeyMetadata;
  const alias = `alias/${unique('orders')}`;
  const team = unique('team');

  beforeAll(async () => {
    key = await client.createKey({ alias, description: 'orders database', tags: { team } });
  });

  it('creates a symmetric key with defaults, alias, tags and description', () => {
    expect(key).toMatchObject({
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      state: 'Enabled',
      protectionLevel: 'SOFTWARE',
      origin: 'KEYHAVEN',
      currentVersion: 1,
      description: 'orders database',
      tags: { team },
    });
    expect(key.aliases).toEqual([alias]);
    expect(Date.parse(key.createdAt)).not.toBeNaN();
  });

  it('describes a key by id and by alias', async () => {
    expect((await client.getKey(key.keyId)).keyId).toBe(key.keyId);
    expect((await client.describeKey(alias)).keyId).toBe(key.keyId);
  });

  it('lists keys by alias, tag and state', async () => {
    expect((await client.listKeys({ alias })).keys.map((k) => k.keyId)).toEqual([key.keyId]);
    expect((await client.listKeys({ tag: { team } })).keys.map((k) => k.keyId)).toEqual([key.keyId]);
    const enabled = await client.listKeys({ state: 'Enabled' });
    expect(enabled.keys.every((k) => k.state === 'Enabled')).toBe(true);
  });

  it('pages through every key with listAllKeys', async () => {
    const tag = unique('paged');
    const created = await Promise.all([1, 2, 3].map(() => client.createKey({ tags: { paged: tag } })));
    const first = await client.listKeys({ tag: `paged:${tag}`, limit: 2 });
    expect(first.keys).toHaveLength(2);
    expect(first.nextCursor).toBeTruthy();
    const seen: string[] = [];
    for await (const k of client.listAllKeys({ tag: { paged: tag }, limit: 1 })) seen.push(k.keyId);
    expect(seen.sort()).toEqual(created.map((k) => k.keyId).sort());
  });

  it('updates description and tags', async () => {
    const updated = await client.updateKey(key.keyId, {
      description: 'renamed',
      tags: { team, tier: 'gold' },
    });
    expect(updated).toMatchObject({ description: 'renamed', tags: { team, tier: 'gold' } });
  });

  it('disables (operations fail with KeyDisabled) and enables', async () => {
    expect((await client.disableKey(key.keyId)).state).toBe('Disabled');
    await expectKeyhavenError(
      client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') }),
      'KeyDisabled',
      409,
    );
    expect((await client.enableKey(key.keyId)).state).toBe('Enabled');
  });

  it('rotates: a new version encrypts, the old version still decrypts', async () => {
    const before = await client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('v1 data') });
    const rotated = await client.rotateKey(key.keyId);
    expect(rotated.currentVersion).toBe(2);
    const after = await client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('v2 data') });
    expect([before.keyVersion, after.keyVersion]).toEqual([1, 2]);
    expect((await client.decrypt({ ciphertext: before.ciphertext })).plaintext.toString()).toBe('v1 data');
    const versions = await client.listKeyVersions(key.keyId);
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(versions.every((v) => v.state === 'Enabled')).toBe(true);
  });

  it('counts usage per operation', async () => {
    await client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('count me') });
    const usage = await client.getKeyUsage(key.keyId);
    expect(usage.encrypt).toBeGreaterThanOrEqual(1);
    expect(typeof usage.lastUsedAt).toBe('string');
  });

  it('schedules deletion with a waiting period and cancels it (back to Disabled)', async () => {
    const doomed = await client.createKey();
    const scheduled = await client.scheduleKeyDeletion(doomed.keyId, 7);
    expect(scheduled.state).toBe('PendingDeletion');
    const days = (Date.parse(scheduled.deletionDate!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    await expectKeyhavenError(
      client.encrypt({ keyId: doomed.keyId, plaintext: Buffer.from('x') }),
      'KeyPendingDeletion',
      409,
    );
    expect((await client.cancelKeyDeletion(doomed.keyId)).state).toBe('Disabled');
    const defaultWindow = await client.scheduleKeyDeletion(doomed.keyId);
    expect((Date.parse(defaultWindow.deletionDate!) - Date.now()) / 86_400_000).toBeGreaterThan(29.9);
  });

  it('refuses a deletion window outside 7..30 days', async () => {
    await expectKeyhavenError(client.scheduleKeyDeletion(key.keyId, 3), 'ValidationError', 400);
  });
});

describe('aliases', () => {
  it('puts, lists, resolves, repoints and deletes an alias', async () => {
    const [a, b] = [await client.createKey(), await client.createKey()];
    const alias = `alias/${unique('app')}`;
    expect(await client.putAlias(alias, a.keyId)).toMatchObject({ alias, keyId: a.keyId });
    expect((await client.listAliases()).find((entry) => entry.alias === alias)?.keyId).toBe(a.keyId);
    expect((await client.listAliases(a.keyId)).map((entry) => entry.alias)).toEqual([alias]);
    expect((await client.getKey(alias)).keyId).toBe(a.keyId);
    // createOnly leaves an alias that exists where it is.
    await expectKeyhavenError(client.putAlias(alias, b.keyId, { createOnly: true }), 'Conflict', 409);
    expect((await client.getKey(alias)).keyId).toBe(a.keyId);
    await client.putAlias(alias, b.keyId);
    expect((await client.getKey(alias)).keyId).toBe(b.keyId);
    await client.deleteAlias(alias);
    await expectKeyhavenError(client.getKey(alias), 'NotFound', 404);
    await expectKeyhavenError(client.deleteAlias(alias), 'NotFound', 404);
  });
});

describe('symmetric encryption', () => {
  let keyId: string;
  let otherKeyId: string;

  beforeAll(async () => {
    keyId = (await client.createKey()).keyId;
    otherKeyId = (await client.createKey()).keyId;
  });

  it('encrypts and decrypts with a context; another context or key fails', async () => {
    const plaintext = randomBytes(1000);
    const context = { purpose: 'test', tenant: 'acme' };
    const encrypted = await client.encrypt({ keyId, plaintext, context });
    expect(encrypted).toMatchObject({ keyId, keyVersion: 1 });
    const decrypted = await client.decrypt({ ciphertext: encrypted.ciphertext, context });
    expect(decrypted.plaintext.equals(plaintext)).toBe(true);
    expect(decrypted).toMatchObject({ keyId, keyVersion: 1 });
    await expectKeyhavenError(
      client.decrypt({ ciphertext: encrypted.ciphertext, context: { purpose: 'other', tenant: 'acme' } }),
      'InvalidCiphertext',
      400,
    );
    await expectKeyhavenError(client.decrypt({ ciphertext: encrypted.ciphertext }), 'InvalidCiphertext', 400);
    await expectKeyhavenError(
      client.decrypt({ ciphertext: encrypted.ciphertext, context, keyId: otherKeyId }),
      'IncorrectKey',
      400,
    );
    const flipped = Buffer.from(encrypted.ciphertext);
    flipped[flipped.length - 1]! ^= 1;
    await expectKeyhavenError(client.decrypt({ ciphertext: flipped, context }), 'InvalidCiphertext', 400);
  });

  it('re-encrypts under another key and context without exposing plaintext', async () => {
    const encrypted = await client.encrypt({ keyId, plaintext: Buffer.from('move me'), context: { a: '1' } });
    const moved = await client.reencrypt({
      ciphertext: encrypted.ciphertext,
      context: { a: '1' },
      destinationKeyId: otherKeyId,
      destinationContext: { b: '2' },
    });
    expect(moved.keyId).toBe(otherKeyId);
    const decrypted = await client.decrypt({ ciphertext: moved.ciphertext, context: { b: '2' } });
    expect(decrypted).toMatchObject({ keyId: otherKeyId });
    expect(decrypted.plaintext.toString()).toBe('move me');
  });

  it('encrypts and decrypts in batches, failing items one by one', async () => {
    const results = await client.encryptBatch([
      { keyId, plaintext: Buffer.from('one') },
      { keyId: '00000000-0000-4000-8000-000000000000', plaintext: Buffer.from('two') },
      { keyId: otherKeyId, plaintext: Buffer.from('three'), context: { c: '3' } },
    ]);
    expect(isBatchError(results[0]!)).toBe(false);
    expect(results[1]).toMatchObject({ error: { code: 'NotFound' } });
    const [first, , third] = results;
    if (isBatchError(first!) || isBatchError(third!)) throw new Error('unexpected batch error');
    const decrypted = await client.decryptBatch([
      { ciphertext: first!.ciphertext },
      { ciphertext: third!.ciphertext, context: { c: 'wrong' } },
      { ciphertext: third!.ciphertext, context: { c: '3' } },
    ]);
    expect(decrypted[0]).toMatchObject({ keyId, plaintext: Buffer.from('one') });
    expect(decrypted[1]).toMatchObject({ error: { code: 'InvalidCiphertext' } });
    expect(decrypted[2]).toMatchObject({ keyId: otherKeyId, plaintext: Buffer.from('three') });
  });

  it('generates data keys (AES-256, AES-128, without plaintext) that decrypt with their context', async () => {
    const dataKey = await client.generateDataKey({ keyId, context: { file: 'a' } });
    expect(dataKey.plaintext).toHaveLength(32);
    const unwrapped = await client.decrypt({ ciphertext: dataKey.ciphertext, context: { file: 'a' } });
    expect(unwrapped.plaintext.equals(dataKey.plaintext!)).toBe(true);
    expect((await client.generateDataKey({ keyId, keySpec: 'AES_128' })).plaintext).toHaveLength(16);
    const blind = await client.generateDataKey({ keyId, withoutPlaintext: true });
    expect(blind.plaintext).toBeUndefined();
    expect((await client.decrypt({ ciphertext: blind.ciphertext })).plaintext).toHaveLength(32);
  });

  it('generates data key pairs whose private key matches the public key', async () => {
    for (const keyPairSpec of ['ECC_NIST_P256', 'RSA_2048'] as const) {
      const pair = await client.generateDataKeyPair({ keyId, keyPairSpec, context: { pair: keyPairSpec } });
      expect(pair).toMatchObject({ keyId, keyPairSpec });
      const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
      const privateKey = createPrivateKey({ key: pair.privateKeyPlaintext!, format: 'der', type: 'pkcs8' });
      const signature = localSign('sha256', Buffer.from('pair'), privateKey);
      expect(localVerify('sha256', Buffer.from('pair'), publicKey, signature)).toBe(true);
      const unwrapped = await client.decrypt({
        ciphertext: pair.privateKeyCiphertext,
        context: { pair: keyPairSpec },
      });
      expect(unwrapped.plaintext.equals(pair.privateKeyPlaintext!)).toBe(true);
    }
    const blind = await client.generateDataKeyPair({
      keyId,
      keyPairSpec: 'ECC_NIST_P256',
      withoutPlaintext: true,
    });
    expect(blind.privateKeyPlaintext).toBeUndefined();
  });

  it('wraps and unwraps key material (AES-KWP)', async () => {
    const material = randomBytes(48);
    const wrapped = await client.wrapKey({ keyId, keyMaterial: material });
    expect(wrapped).toMatchObject({ keyId, keyVersion: 1 });
    const unwrapped = await client.unwrapKey({ keyId, wrappedKey: wrapped.wrappedKey });
    expect(unwrapped.keyMaterial.equals(material)).toBe(true);
    const flipped = Buffer.from(wrapped.wrappedKey);
    flipped[3]! ^= 1;
    await expectKeyhavenError(client.unwrapKey({ keyId, wrappedKey: flipped }), 'InvalidCiphertext', 400);
  });

  it('derives keys deterministically from key, context and salt', async () => {
    const a = await client.deriveKey({ keyId, context: 'session-1', length: 32 });
    const again = await client.deriveKey({ keyId, context: 'session-1', length: 32 });
    const other = await client.deriveKey({ keyId, context: 'session-2', length: 32 });
    const salted = await client.deriveKey({
      keyId,
      context: 'session-1',
      salt: Buffer.from('salt'),
      length: 64,
    });
    expect(a.derivedKey).toHaveLength(32);
    expect(a.derivedKey.equals(again.derivedKey)).toBe(true);
    expect(a.derivedKey.equals(other.derivedKey)).toBe(false);
    expect(salted.derivedKey).toHaveLength(64);
    expect(salted.derivedKey.subarray(0, 32).equals(a.derivedKey)).toBe(false);
  });

  it('returns random bytes, and refuses more than 1024 per request', async () => {
    const [a, b] = [await client.random(32), await client.random(32)];
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
    await expectKeyhavenError(client.random(2000), 'ValidationError', 400);
  });

  it('refuses a symmetric key for signing (KeyUsageMismatch)', async () => {
    await expectKeyhavenError(
      client.sign({ keyId, message: Buffer.from('m'), algorithm: 'ECDSA_SHA_256' }),
      'KeyUsageMismatch',
      400,
    );
  });
});

describe('signatures', () => {
  const message = Buffer.from('release 1.2.3');

  it('ECDSA P-256: RAW and DIGEST signatures verify on the server and with node:crypto', async () => {
    const key = await client.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    const publicKey = await client.getPublicKey(key.keyId);
    expect(publicKey.keySpec).toBe('ECC_NIST_P256');
    expect(
      createPublicKey(publicKey.publicKey).export({ format: 'der', type: 'spki' }).equals(publicKey.spki),
    ).toBe(true);

    const raw = await client.sign({ keyId: key.keyId, message, algorithm: 'ECDSA_SHA_256' });
    expect(raw).toMatchObject({ keyId: key.keyId, keyVersion: 1, algorithm: 'ECDSA_SHA_256' });
    expect(localVerify('sha256', message, publicKey.publicKey, raw.signature)).toBe(true);
    const verdict = await client.verify({
      keyId: key.keyId,
      message,
      algorithm: 'ECDSA_SHA_256',
      signature: raw.signature,
    });
    expect(verdict.valid).toBe(true);

    const digest = createHash('sha256').update(message).digest();
    const fromDigest = await client.sign({
      keyId: key.keyId,
      message: digest,
      messageType: 'DIGEST',
      algorithm: 'ECDSA_SHA_256',
    });
    expect(localVerify('sha256', message, publicKey.publicKey, fromDigest.signature)).toBe(true);
    expect(
      (
        await client.verify({
          keyId: key.keyId,
          message: digest,
          messageType: 'DIGEST',
          algorithm: 'ECDSA_SHA_256',
          signature: fromDigest.signature,
        })
      ).valid,
    ).toBe(true);

    const forged = await client.verify({
      keyId: key.keyId,
      message: Buffer.from('release 6.6.6'),
      algorithm: 'ECDSA_SHA_256',
      signature: raw.signature,
    });
    expect(forged.valid).toBe(false);
  });

  it('Ed25519 and RSA-PSS signatures verify with node:crypto', async () => {
    const ed = await client.createKey({ keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' });
    const edSignature = await client.sign({ keyId: ed.keyId, message, algorithm: 'ED25519_SHA_512' });
    expect(
      localVerify(null, message, (await client.getPublicKey(ed.keyId)).publicKey, edSignature.signature),
    ).toBe(true);

    const rsa = await client.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
    const pss = await client.sign({ keyId: rsa.keyId, message, algorithm: 'RSASSA_PSS_SHA_256' });
    const rsaPublic = (await client.getPublicKey(rsa.keyId)).publicKey;
    // AWS KMS (and so Keyhaven) uses a salt as long as the digest.
    expect(
      localVerify(
        'sha256',
        message,
        { key: rsaPublic, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        pss.signature,
      ),
    ).toBe(true);
  });

  it('HMAC: generates and verifies MACs', async () => {
    const key = await client.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const mac = await client.generateMac({ keyId: key.keyId, message, algorithm: 'HMAC_SHA_256' });
    expect(mac.mac).toHaveLength(32);
    expect(mac.algorithm).toBe('HMAC_SHA_256');
    const again = await client.generateMac({ keyId: key.keyId, message, algorithm: 'HMAC_SHA_256' });
    expect(again.mac.equals(mac.mac)).toBe(true);
    expect(
      (await client.verifyMac({ keyId: key.keyId, message, algorithm: 'HMAC_SHA_256', mac: mac.mac })).valid,
    ).toBe(true);
    const wrong = Buffer.from(mac.mac);
    wrong[0]! ^= 1;
    expect(
      (await client.verifyMac({ keyId: key.keyId, message, algorithm: 'HMAC_SHA_256', mac: wrong })).valid,
    ).toBe(false);
  });
});

describe('asymmetric encryption', () => {
  it('RSA-OAEP: server and node:crypto ciphertexts both decrypt on the server', async () => {
    const key = await client.createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const secret = Buffer.from('launch code');
    const encrypted = await client.asymmetricEncrypt({
      keyId: key.keyId,
      plaintext: secret,
      algorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(encrypted).toMatchObject({ keyId: key.keyId, keyVersion: 1, algorithm: 'RSAES_OAEP_SHA_256' });
    expect(encrypted.ciphertext).toHaveLength(256);
    const decrypted = await client.asymmetricDecrypt({
      keyId: key.keyId,
      ciphertext: encrypted.ciphertext,
      algorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(decrypted.plaintext.equals(secret)).toBe(true);

    const { publicKey } = await client.getPublicKey(key.keyId);
    const local = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      secret,
    );
    const fromLocal = await client.asymmetricDecrypt({
      keyId: key.keyId,
      ciphertext: local,
      algorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(fromLocal.plaintext.equals(secret)).toBe(true);
  });
});

describe('BYOK import', () => {
  it('imports symmetric material that then really is the key (checked by decrypting locally)', async () => {
    const key = await client.createKey({ origin: 'EXTERNAL' });
    expect(key.state).toBe('PendingImport');
    const parameters = await client.getImportParameters(key.keyId);
    expect(parameters.wrappingAlgorithm).toBe('RSAES_OAEP_SHA_256');
    expect(parameters.wrappingPublicKey).toContain('BEGIN PUBLIC KEY');
    const material = randomBytes(32);
    const imported = await client.importKeyMaterial({
      keyId: key.keyId,
      importToken: parameters.importToken,
      encryptedKeyMaterial: encryptKeyMaterialForImport(parameters.wrappingPublicKey, material),
      keyMaterialType: 'SYMMETRIC',
    });
    expect(imported).toMatchObject({ state: 'Enabled', currentVersion: 1 });

    // The ciphertext layout is DESIGN.md's self-describing format: a 34-byte header (format, key id,
    // version, algorithm, IV) that is also the AAD, then AES-256-GCM output and the tag.
    const { ciphertext } = await client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('mine') });
    const decipher = createDecipheriv('aes-256-gcm', material, ciphertext.subarray(22, 34));
    decipher.setAAD(ciphertext.subarray(0, 34));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const plaintext = Buffer.concat([
      decipher.update(ciphertext.subarray(34, ciphertext.length - 16)),
      decipher.final(),
    ]);
    expect(plaintext.toString()).toBe('mine');
  });

  it('imports an EC private key (importKey) whose signatures verify with the original public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = await client.createKey({
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      origin: 'EXTERNAL',
    });
    await client.importKey({
      keyId: key.keyId,
      keyMaterial: privateKey.export({ format: 'der', type: 'pkcs8' }),
      keyMaterialType: 'PRIVATE_KEY',
    });
    const signed = await client.sign({
      keyId: key.keyId,
      message: Buffer.from('byok'),
      algorithm: 'ECDSA_SHA_256',
    });
    expect(localVerify('sha256', Buffer.from('byok'), publicKey, signed.signature)).toBe(true);
  });

  it('imports a public key only: it verifies local signatures and cannot sign', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = await client.createKey({
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      origin: 'EXTERNAL',
    });
    await client.importKey({
      keyId: key.keyId,
      keyMaterial: publicKey.export({ format: 'der', type: 'spki' }),
      keyMaterialType: 'PUBLIC_KEY',
    });
    const signature = localSign('sha256', Buffer.from('offline'), privateKey);
    const verdict = await client.verify({
      keyId: key.keyId,
      message: Buffer.from('offline'),
      algorithm: 'ECDSA_SHA_256',
      signature,
    });
    expect(verdict.valid).toBe(true);
    await expectKeyhavenError(
      client.sign({ keyId: key.keyId, message: Buffer.from('x'), algorithm: 'ECDSA_SHA_256' }),
      'KeyUsageMismatch',
    );
  });

  it('refuses import parameters for a key with Keyhaven-generated material', async () => {
    const key = await client.createKey();
    await expectKeyhavenError(client.getImportParameters(key.keyId), 'Conflict', 409);
  });
});
