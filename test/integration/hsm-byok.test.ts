// BYOK into the HSM over real HTTP (issue 16 §2), against a server on a fresh SoftHSM2 token: an
// HSM key with origin EXTERNAL takes symmetric material wrapped RSAES_OAEP_SHA_1 to a key pair the
// token made; the token then holds exactly that material (its wraps and MACs match node:crypto's
// with the same bytes), re-imports are held to it, refusals leave nothing in the token, and the
// AWS SDK takes the same path through the AWS dialect.
import { constants, createHmac, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aesKwpUnwrap } from '../../src/crypto/keywrap.js';
import { parseListObjects } from '../adapters/pkcs11/fixtures.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { startServer, type TestServer } from '../helpers/server.js';
import {
  DecryptCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
} from '@aws-sdk/client-kms';
import { accessKeyOf, clientFor } from './aws-fixtures.js';
import { Api, b64 } from './http.js';
import { createActor, createTenant } from './identity-fixtures.js';
import type { ImportParametersReply, KeyReply, KeyView } from './wire-types.js';

interface ImportReply extends KeyReply {
  keyMaterialId: string;
}

describe('import of key material into HSM keys over REST (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let server: TestServer;
  let api: Api;
  const objects = () => parseListObjects(hsm.pkcs11Tool(['--list-objects']));
  /** The objects of a key version: each import's object is labelled under the version's label. */
  const labelled = (label: string) =>
    objects().filter((o) => o.label === label || o.label.startsWith(`${label}/`));

  const createExternalKey = async (keySpec = 'SYMMETRIC_DEFAULT'): Promise<KeyView> => {
    const response = await api.post<KeyReply>('/v1/keys', {
      protectionLevel: 'HSM',
      origin: 'EXTERNAL',
      keySpec,
      ...(keySpec.startsWith('HMAC') ? { keyUsage: 'GENERATE_VERIFY_MAC' } : {}),
    });
    expect(response.status, response.text).toBe(201);
    expect(response.body.key.state).toBe('PendingImport');
    return response.body.key;
  };
  const parametersFor = (keyId: string, query = '') =>
    api.ok<ImportParametersReply>(
      'GET',
      `/v1/keys/import-parameters?keyId=${keyId}&wrappingKeySpec=RSA_2048${query}`,
    );
  const wrap = (parameters: ImportParametersReply, material: Buffer) =>
    publicEncrypt(
      { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      material,
    );
  const importInto = async (keyId: string, material: Buffer, extra: Record<string, unknown> = {}) => {
    const parameters = await parametersFor(keyId);
    return api.post<ImportReply>(`/v1/keys/${keyId}/import`, {
      importToken: parameters.importToken,
      encryptedKeyMaterial: b64(wrap(parameters, material)),
      ...extra,
    });
  };

  beforeAll(async () => {
    hsm = createSoftHsm({ labelPrefix: 'keyhaven-hsm-byok' });
    server = await startServer({ env: { ...hsm.keyhavenEnv, KEYHAVEN_LOG_LEVEL: 'error' } });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('imports AES material: the token wraps with exactly those bytes; the object is sensitive and not extractable', async () => {
    const key = await createExternalKey();
    const parameters = await parametersFor(key.keyId);
    // HSM keys default to the one algorithm the token unwraps with inside itself.
    expect(parameters.wrappingAlgorithm).toBe('RSAES_OAEP_SHA_1');
    const importLabel = objects().find((o) => o.label.startsWith('keyhaven-import/'));
    expect(importLabel?.usage).toEqual(['unwrap']);
    const material = randomBytes(32);
    const imported = await api.post<ImportReply>(`/v1/keys/${key.keyId}/import`, {
      importToken: parameters.importToken,
      encryptedKeyMaterial: b64(wrap(parameters, material)),
    });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.body.key.state).toBe('Enabled');
    expect(imported.body.keyMaterialId).toMatch(/^[0-9a-f]{64}$/);

    const sample = randomBytes(24);
    const wrapped = await api.ok<{ wrappedKey: string }>('POST', '/v1/wrap', {
      keyId: key.keyId,
      keyMaterial: b64(sample),
    });
    expect(aesKwpUnwrap(material, Buffer.from(wrapped.wrappedKey, 'base64')).equals(sample)).toBe(true);
    const sealed = await api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('imported into the HSM'),
    });
    const opened = await api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
      ciphertext: sealed.ciphertext,
    });
    expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('imported into the HSM');

    const [object] = labelled(`keyhaven/${key.keyId}/v1`);
    expect(object?.flags).toContain('sensitive');
    expect(object?.flags).not.toContain('extractable');
    // The wrapping key pair was used once and is gone.
    expect(objects().filter((o) => o.label.startsWith('keyhaven-import/'))).toEqual([]);
  });

  it('imports HMAC material: MACs equal node:crypto HMAC with the same key', async () => {
    const key = await createExternalKey('HMAC_384');
    const material = randomBytes(48);
    expect((await importInto(key.keyId, material)).status).toBe(200);
    const message = randomBytes(64);
    const mac = await api.ok<{ mac: string }>('POST', '/v1/mac', {
      keyId: key.keyId,
      message: b64(message),
      algorithm: 'HMAC_SHA_384',
    });
    expect(Buffer.from(mac.mac, 'base64')).toEqual(createHmac('sha384', material).update(message).digest());
  });

  it('holds a re-import to the same material: other bytes are refused and leave no object behind', async () => {
    const key = await createExternalKey();
    const material = randomBytes(32);
    const first = await importInto(key.keyId, material);
    expect(first.status).toBe(200);
    const deleted = await api.delete<ImportReply>(`/v1/keys/${key.keyId}/material`);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body.key.state).toBe('PendingImport');
    expect(labelled(`keyhaven/${key.keyId}/v1`)).toEqual([]);

    const other = await importInto(key.keyId, randomBytes(32));
    expect(other.status).toBe(400);
    expect(other.text).toMatch(/IncorrectKeyMaterial|not the one imported before/);
    expect(labelled(`keyhaven/${key.keyId}/v1`)).toEqual([]);
    const again = await importInto(key.keyId, material);
    expect(again.status, again.text).toBe(200);
    expect(again.body.keyMaterialId).toBe(first.body.keyMaterialId);
  });

  it('refuses what the token cannot import inside itself with a clear 4xx, never a 500', async () => {
    const key = await createExternalKey();
    const sha256 = await api.get(
      `/v1/keys/import-parameters?keyId=${key.keyId}&wrappingAlgorithm=RSAES_OAEP_SHA_256`,
    );
    // UnsupportedOperation, a Conflict (409) as everywhere in the API.
    expect(sha256.status).toBe(409);
    expect(sha256.text).toMatch(/RSAES_OAEP_SHA_1/);
    const asymmetric = await api.post('/v1/keys', {
      protectionLevel: 'HSM',
      origin: 'EXTERNAL',
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
    });
    expect(asymmetric.status).toBe(400);
    expect(asymmetric.text).toMatch(/not importable/);

    const parameters = await parametersFor(key.keyId);
    const tampered = wrap(parameters, randomBytes(32));
    tampered[5]! ^= 0x80;
    const bad = await api.post(`/v1/keys/${key.keyId}/import`, {
      importToken: parameters.importToken,
      encryptedKeyMaterial: b64(tampered),
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/InvalidCiphertext/);
    const wrongLength = await importInto(key.keyId, randomBytes(20));
    expect(wrongLength.status).toBe(400);
    expect(wrongLength.text).toMatch(/not a valid SYMMETRIC_DEFAULT key/);
    const privateKey = await importInto(key.keyId, randomBytes(32), { keyMaterialType: 'PRIVATE_KEY' });
    expect(privateKey.status).toBe(400);
    expect(privateKey.text).toMatch(/SYMMETRIC key material only/);
    const described = await api.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`);
    expect(described.key.state).toBe('PendingImport');
    expect(labelled(`keyhaven/${key.keyId}/v1`)).toEqual([]);
    // Spent tokens took their pairs along; the PRIVATE_KEY import was refused before its token
    // was spent, so that token and its pair are still there for a corrected request.
    expect(objects().filter((o) => o.label.startsWith('keyhaven-import/'))).toHaveLength(1);
  });

  it('takes the import through the AWS dialect with the AWS SDK (RSAES_OAEP_SHA_1)', async () => {
    const { tenantId } = await createTenant(api);
    const tenantAdmin = await createActor(api, tenantId, ['admin']);
    const client = clientFor(server, await accessKeyOf(api, tenantAdmin.principal.principalId));
    try {
      const created = await tenantAdmin.api.post<KeyReply>('/v1/keys', {
        protectionLevel: 'HSM',
        origin: 'EXTERNAL',
      });
      expect(created.status, created.text).toBe(201);
      const KeyId = created.body.key.keyId;
      const refused = await client
        .send(
          new GetParametersForImportCommand({
            KeyId,
            WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
            WrappingKeySpec: 'RSA_2048',
          }),
        )
        .then(
          () => 'accepted',
          (error: Error) => error.name,
        );
      expect(refused).toBe('UnsupportedOperationException');
      const parameters = await client.send(
        new GetParametersForImportCommand({
          KeyId,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_1',
          WrappingKeySpec: 'RSA_2048',
        }),
      );
      const publicKey = createPublicKey({
        key: Buffer.from(parameters.PublicKey!),
        format: 'der',
        type: 'spki',
      });
      const material = randomBytes(32);
      await client.send(
        new ImportKeyMaterialCommand({
          KeyId,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: publicEncrypt(
            { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
            material,
          ),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      );
      const sealed = await client.send(
        new EncryptCommand({ KeyId, Plaintext: Buffer.from('via the AWS SDK') }),
      );
      const opened = await client.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('via the AWS SDK');
      expect(labelled(`keyhaven/${KeyId}/v1`)).toHaveLength(1);
    } finally {
      client.destroy();
    }
  });
});
