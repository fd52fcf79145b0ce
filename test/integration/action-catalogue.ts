// One valid request for every API action, for suites that call each action as some principal (the
// role matrix, tenant isolation). `prepare` makes what the request needs with the tenant admin's
// credential, fresh for each call where the action consumes it (a deletion, a revocation).
import { constants, generateKeyPairSync, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import { passphraseSeal, sealBundle } from '../../src/crypto/bundle-seal.js';
import { BUNDLE_FORMAT_NAME, encodePayload, type BundledKey } from '../../src/domain/key-bundle.js';
import { HELPER_WRAPPING_KEY_SPEC } from './byok.js';
import { b64, type Api, type ApiResponse } from './http.js';
import { createKey } from './suite-server.js';

export interface ActionRequest {
  method: string;
  path: string;
  json?: unknown;
  /** For batches: the status is 200 either way; the items say AccessDenied. */
  batch?: boolean;
}

export interface Fixtures {
  tenantId: string;
  /** The tenant admin's credential, which prepares everything. */
  admin: Api;
  symmetricKeyId: string;
  signingKeyId: string;
  macKeyId: string;
  rsaKeyId: string;
  ciphertext: string;
  principalId: string;
  policyId: string;
}

type Prepare = (f: Fixtures) => Promise<ActionRequest>;

let counter = 0;
const fresh = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${++counter}`;

/** A valid document that changes nothing: it names a principal that does not exist. */
const harmlessPolicy = {
  statements: [
    { effect: 'allow', principals: ['principal:nobody'], actions: ['DescribeKey'], resources: ['*'] },
  ],
};

async function okBody<T>(response: Promise<ApiResponse<T>>): Promise<T> {
  const answered = await response;
  if (answered.status >= 300)
    throw new Error(`fixture request answered ${answered.status}: ${answered.text}`);
  return answered.body;
}

export const ACTION_REQUESTS: Record<string, Prepare> = {
  CreateKey: async () => ({ method: 'POST', path: '/v1/keys', json: {} }),
  DescribeKey: async (f) => ({ method: 'GET', path: `/v1/keys/${f.symmetricKeyId}` }),
  ListKeys: async () => ({ method: 'GET', path: '/v1/keys' }),
  UpdateKey: async (f) => ({
    method: 'PATCH',
    path: `/v1/keys/${f.symmetricKeyId}`,
    json: { description: 'x' },
  }),
  DisableKey: async (f) => ({ method: 'POST', path: `/v1/keys/${(await createKey(f.admin)).keyId}/disable` }),
  EnableKey: async (f) => {
    const key = await createKey(f.admin);
    await okBody(f.admin.post(`/v1/keys/${key.keyId}/disable`));
    return { method: 'POST', path: `/v1/keys/${key.keyId}/enable` };
  },
  RotateKey: async (f) => ({ method: 'POST', path: `/v1/keys/${f.symmetricKeyId}/rotate` }),
  ScheduleKeyDeletion: async (f) => ({
    method: 'DELETE',
    path: `/v1/keys/${(await createKey(f.admin)).keyId}?pendingWindowDays=7`,
  }),
  CancelKeyDeletion: async (f) => {
    const key = await createKey(f.admin);
    await okBody(f.admin.delete(`/v1/keys/${key.keyId}?pendingWindowDays=7`));
    return { method: 'POST', path: `/v1/keys/${key.keyId}/cancel-deletion` };
  },
  ListKeyVersions: async (f) => ({ method: 'GET', path: `/v1/keys/${f.symmetricKeyId}/versions` }),
  GetPublicKey: async (f) => ({ method: 'GET', path: `/v1/keys/${f.signingKeyId}/public-key` }),
  GetKeyUsage: async (f) => ({ method: 'GET', path: `/v1/keys/${f.symmetricKeyId}/usage` }),
  GetImportParameters: async (f) => ({
    method: 'GET',
    path: `/v1/keys/import-parameters?keyId=${(await createKey(f.admin, { origin: 'EXTERNAL' })).keyId}`,
  }),
  ImportKeyMaterial: async (f) => importRequest(f, (await createKey(f.admin, { origin: 'EXTERNAL' })).keyId),
  DeleteImportedKeyMaterial: async (f) => {
    const key = await createKey(f.admin, { origin: 'EXTERNAL' });
    const request = await importRequest(f, key.keyId);
    await okBody(f.admin.post(request.path, request.json));
    return { method: 'DELETE', path: `/v1/keys/${key.keyId}/material` };
  },
  PutAlias: async (f) => ({
    method: 'PUT',
    path: `/v1/aliases/${fresh('put')}`,
    json: { keyId: f.symmetricKeyId },
  }),
  DeleteAlias: async (f) => {
    const name = fresh('delete');
    await okBody(f.admin.put(`/v1/aliases/${name}`, { keyId: f.symmetricKeyId }));
    return { method: 'DELETE', path: `/v1/aliases/${name}` };
  },
  ListAliases: async () => ({ method: 'GET', path: '/v1/aliases' }),
  ExportKey: async (f) => ({
    method: 'GET',
    path: `/v1/keys/${(await createKey(f.admin, { exportable: true })).keyId}/export?${new URLSearchParams({ wrappingPublicKey: b64(exportWrappingKey()) })}`,
  }),
  BackupKey: async (f) => ({
    method: 'POST',
    path: '/v1/keys/backup',
    json: { keyIds: [f.symmetricKeyId], passphrase: BUNDLE_PASSPHRASE },
  }),
  RestoreKey: async () => ({
    method: 'POST',
    path: '/v1/keys/restore',
    json: { bundle: b64(await bundleOfNewKey()), passphrase: BUNDLE_PASSPHRASE },
  }),

  Encrypt: async (f) => ({
    method: 'POST',
    path: '/v1/encrypt',
    json: { keyId: f.symmetricKeyId, plaintext: b64('x') },
  }),
  Decrypt: async (f) => ({ method: 'POST', path: '/v1/decrypt', json: { ciphertext: f.ciphertext } }),
  ReEncrypt: async (f) => ({
    method: 'POST',
    path: '/v1/reencrypt',
    json: { ciphertext: f.ciphertext, destinationKeyId: f.symmetricKeyId },
  }),
  EncryptBatch: async (f) => ({
    method: 'POST',
    path: '/v1/encrypt/batch',
    json: { items: [{ keyId: f.symmetricKeyId, plaintext: b64('x') }] },
    batch: true,
  }),
  DecryptBatch: async (f) => ({
    method: 'POST',
    path: '/v1/decrypt/batch',
    json: { items: [{ ciphertext: f.ciphertext }] },
    batch: true,
  }),
  GenerateDataKey: async (f) => ({ method: 'POST', path: '/v1/datakey', json: { keyId: f.symmetricKeyId } }),
  GenerateDataKeyPair: async (f) => ({
    method: 'POST',
    path: '/v1/datakey-pair',
    json: { keyId: f.symmetricKeyId, keyPairSpec: 'ECC_NIST_P256' },
  }),
  Sign: async (f) => ({
    method: 'POST',
    path: '/v1/sign',
    json: { keyId: f.signingKeyId, message: b64('m'), algorithm: 'ECDSA_SHA_256' },
  }),
  Verify: async (f) => {
    const signed = await okBody(
      f.admin.post<{ signature: string }>('/v1/sign', {
        keyId: f.signingKeyId,
        message: b64('m'),
        algorithm: 'ECDSA_SHA_256',
      }),
    );
    return {
      method: 'POST',
      path: '/v1/verify',
      json: {
        keyId: f.signingKeyId,
        message: b64('m'),
        algorithm: 'ECDSA_SHA_256',
        signature: signed.signature,
      },
    };
  },
  GenerateMac: async (f) => ({
    method: 'POST',
    path: '/v1/mac',
    json: { keyId: f.macKeyId, message: b64('m'), algorithm: 'HMAC_SHA_256' },
  }),
  VerifyMac: async (f) => {
    const made = await okBody(
      f.admin.post<{ mac: string }>('/v1/mac', {
        keyId: f.macKeyId,
        message: b64('m'),
        algorithm: 'HMAC_SHA_256',
      }),
    );
    return {
      method: 'POST',
      path: '/v1/mac/verify',
      json: { keyId: f.macKeyId, message: b64('m'), algorithm: 'HMAC_SHA_256', mac: made.mac },
    };
  },
  AsymmetricEncrypt: async (f) => ({
    method: 'POST',
    path: '/v1/asymmetric/encrypt',
    json: { keyId: f.rsaKeyId, plaintext: b64('x'), algorithm: 'RSAES_OAEP_SHA_256' },
  }),
  AsymmetricDecrypt: async (f) => {
    const made = await okBody(
      f.admin.post<{ ciphertext: string }>('/v1/asymmetric/encrypt', {
        keyId: f.rsaKeyId,
        plaintext: b64('x'),
        algorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    return {
      method: 'POST',
      path: '/v1/asymmetric/decrypt',
      json: { keyId: f.rsaKeyId, ciphertext: made.ciphertext, algorithm: 'RSAES_OAEP_SHA_256' },
    };
  },
  WrapKey: async (f) => ({
    method: 'POST',
    path: '/v1/wrap',
    json: { keyId: f.symmetricKeyId, keyMaterial: b64(randomBytes(32)) },
  }),
  UnwrapKey: async (f) => {
    const made = await okBody(
      f.admin.post<{ wrappedKey: string }>('/v1/wrap', {
        keyId: f.symmetricKeyId,
        keyMaterial: b64(randomBytes(32)),
      }),
    );
    return {
      method: 'POST',
      path: '/v1/unwrap',
      json: { keyId: f.symmetricKeyId, wrappedKey: made.wrappedKey },
    };
  },
  DeriveKey: async (f) => ({
    method: 'POST',
    path: '/v1/derive',
    json: { keyId: f.symmetricKeyId, context: 'ctx', length: 32 },
  }),
  GenerateRandom: async () => ({ method: 'GET', path: '/v1/random?bytes=16' }),

  DescribeTenant: async (f) => ({ method: 'GET', path: `/v1/tenants/${f.tenantId}` }),
  ListTenants: async () => ({ method: 'GET', path: '/v1/tenants' }),
  UpdateTenant: async (f) => ({
    method: 'PATCH',
    path: `/v1/tenants/${f.tenantId}`,
    json: { policyIds: [] },
  }),
  CreatePrincipal: async () => ({
    method: 'POST',
    path: '/v1/principals',
    json: { name: fresh('principal'), type: 'user' },
  }),
  ListPrincipals: async () => ({ method: 'GET', path: '/v1/principals' }),
  DescribePrincipal: async (f) => ({ method: 'GET', path: `/v1/principals/${f.principalId}` }),
  UpdatePrincipal: async (f) => ({
    method: 'PATCH',
    path: `/v1/principals/${f.principalId}`,
    json: { attributes: { team: 'x' } },
  }),
  DeletePrincipal: async (f) => ({ method: 'DELETE', path: `/v1/principals/${await newPrincipal(f)}` }),
  PutPrincipalPolicies: async (f) => ({
    method: 'PUT',
    path: `/v1/principals/${await newPrincipal(f)}/policies`,
    json: { policyIds: [] },
  }),
  CreateApiKey: async (f) => ({ method: 'POST', path: `/v1/principals/${f.principalId}/api-keys`, json: {} }),
  ListApiKeys: async (f) => ({ method: 'GET', path: `/v1/principals/${f.principalId}/api-keys` }),
  RevokeApiKey: async (f) => {
    const made = await okBody(
      f.admin.post<{ apiKey: { apiKeyId: string } }>(`/v1/principals/${f.principalId}/api-keys`, {}),
    );
    return { method: 'DELETE', path: `/v1/principals/${f.principalId}/api-keys/${made.apiKey.apiKeyId}` };
  },
  CreateAccessKey: async (f) => ({ method: 'POST', path: `/v1/principals/${f.principalId}/access-keys` }),
  ListAccessKeys: async (f) => ({ method: 'GET', path: `/v1/principals/${f.principalId}/access-keys` }),
  DeleteAccessKey: async (f) => {
    const made = await okBody(
      f.admin.post<{ accessKeyId: string }>(`/v1/principals/${f.principalId}/access-keys`),
    );
    return { method: 'DELETE', path: `/v1/principals/${f.principalId}/access-keys/${made.accessKeyId}` };
  },
  CreatePolicy: async () => ({
    method: 'POST',
    path: '/v1/policies',
    json: { name: fresh('policy'), document: harmlessPolicy },
  }),
  ListPolicies: async () => ({ method: 'GET', path: '/v1/policies' }),
  GetPolicy: async (f) => ({ method: 'GET', path: `/v1/policies/${f.policyId}` }),
  UpdatePolicy: async (f) => ({
    method: 'PUT',
    path: `/v1/policies/${f.policyId}`,
    json: { document: harmlessPolicy },
  }),
  DeletePolicy: async (f) => {
    const made = await okBody(
      f.admin.post<{ policy: { policyId: string } }>('/v1/policies', {
        name: fresh('policy'),
        document: harmlessPolicy,
      }),
    );
    return { method: 'DELETE', path: `/v1/policies/${made.policy.policyId}` };
  },
  ListPolicyVersions: async (f) => ({ method: 'GET', path: `/v1/policies/${f.policyId}/versions` }),
  RollbackPolicy: async (f) => ({
    method: 'POST',
    path: `/v1/policies/${f.policyId}/rollback`,
    json: { version: 1 },
  }),
  GetKeyPolicy: async (f) => ({ method: 'GET', path: `/v1/keys/${f.symmetricKeyId}/policy` }),
  PutKeyPolicy: async (f) => ({
    method: 'PUT',
    path: `/v1/keys/${(await createKey(f.admin)).keyId}/policy`,
    json: { document: harmlessPolicy },
  }),
  SimulatePolicy: async (f) => ({
    method: 'POST',
    path: '/v1/simulate',
    json: { principalId: f.principalId, action: 'Encrypt', keyId: f.symmetricKeyId },
  }),
  ListLogs: async () => ({ method: 'GET', path: '/v1/logs?limit=5' }),
  VerifyAccess: async (f) => ({
    method: 'POST',
    path: '/v1/auth/verify',
    json: { action: 'Encrypt', keyId: f.symmetricKeyId },
  }),
  CreateAccessToken: async () => ({ method: 'POST', path: '/v1/auth/token', json: { ttlSeconds: 60 } }),
};

async function newPrincipal(f: Fixtures): Promise<string> {
  const made = await okBody(
    f.admin.post<{ principal: { principalId: string } }>('/v1/principals', {
      name: fresh('target'),
      type: 'user',
    }),
  );
  return made.principal.principalId;
}

/** The objects most actions act on, made by the tenant admin. */
export async function prepareFixtures(admin: Api, tenantId: string): Promise<Fixtures> {
  const symmetric = await createKey(admin);
  const signing = await createKey(admin, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
  const mac = await createKey(admin, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
  const rsa = await createKey(admin, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
  const encrypted = await okBody(
    admin.post<{ ciphertext: string }>('/v1/encrypt', { keyId: symmetric.keyId, plaintext: b64('fixture') }),
  );
  const policy = await okBody(
    admin.post<{ policy: { policyId: string } }>('/v1/policies', {
      name: fresh('fixture'),
      document: harmlessPolicy,
    }),
  );
  return {
    tenantId,
    admin,
    symmetricKeyId: symmetric.keyId,
    signingKeyId: signing.keyId,
    macKeyId: mac.keyId,
    rsaKeyId: rsa.keyId,
    ciphertext: encrypted.ciphertext,
    principalId: await newPrincipal({ admin } as Fixtures),
    policyId: policy.policy.policyId,
  };
}

export async function send(api: Api, request: ActionRequest): Promise<ApiResponse> {
  return api.request(request.method, request.path, request.json === undefined ? {} : { json: request.json });
}

/**
 * An import of 32 random bytes into the EXTERNAL key `keyId`, under fresh import parameters with an
 * RSA_2048 wrapping key (HELPER_WRAPPING_KEY_SPEC, as byok.ts's helpers): each set costs the server
 * a key generation, the default RSA_3072's about twice as long, once per role and file.
 */
async function importRequest(f: Fixtures, keyId: string): Promise<ActionRequest> {
  const parameters = await okBody(
    f.admin.get<{ importToken: string; wrappingPublicKey: string }>(
      `/v1/keys/import-parameters?keyId=${keyId}&wrappingKeySpec=${HELPER_WRAPPING_KEY_SPEC}`,
    ),
  );
  const wrapped = publicEncrypt(
    { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    randomBytes(32),
  );
  return {
    method: 'POST',
    path: `/v1/keys/${keyId}/import`,
    json: { importToken: parameters.importToken, encryptedKeyMaterial: b64(wrapped) },
  };
}

let wrappingSpki: Buffer | undefined;
/** An RSA-2048 public key (SPKI DER) to export to, made once. */
function exportWrappingKey(): Buffer {
  wrappingSpki ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  return wrappingSpki;
}

export const BUNDLE_PASSPHRASE = 'catalogue passphrase';

/**
 * A bundle made here, as docs/api.md describes the format, of one SYMMETRIC_DEFAULT key that no
 * server has: restoring it succeeds wherever the caller may restore (unless `mutate`, given the
 * key's entry before it is sealed, spoils it; the header names the entry's keyId as `mutate` left
 * it). Sealed under BUNDLE_PASSPHRASE.
 */
export async function bundleOfNewKey(
  mutate: (key: Record<string, unknown>) => void = () => undefined,
): Promise<Buffer> {
  const keyId = randomUUID();
  const now = new Date().toISOString();
  const material = randomBytes(32);
  const entry: Record<string, unknown> = {
    keyId,
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    state: 'Enabled',
    protectionLevel: 'SOFTWARE',
    origin: 'KEYHAVEN',
    currentVersion: 1,
    description: 'restored by the action catalogue',
    tags: {},
    createdAt: now,
    rotationPeriodDays: null,
    nextRotationAt: null,
    expiresAt: null,
    exportable: false,
    publicKeyOnly: false,
    aliases: [],
    policy: null,
    versions: [
      {
        version: 1,
        state: 'Enabled',
        createdAt: now,
        rotation: null,
        material: { offset: 0, length: material.length },
        publicKeySpki: null,
        sealsReserved: 0,
        fingerprint: null,
      },
    ],
  };
  mutate(entry);
  const payload = encodePayload({ keys: [entry as unknown as BundledKey] }, material);
  // The lowest cost the server accepts: the catalogue runs this once per role.
  const { seal, key } = await passphraseSeal(BUNDLE_PASSPHRASE, { N: 2 ** 14, r: 8, p: 1 });
  return sealBundle(
    key,
    { format: BUNDLE_FORMAT_NAME, version: 1, createdAt: now, keyIds: [entry.keyId as string], seal },
    payload,
  );
}
