// BYOK as a client does it: fetch import parameters, wrap the material with RSA-OAEP-SHA-256 under
// the wrapping public key (node:crypto), and POST it with the import token.
import { constants, publicEncrypt } from 'node:crypto';
import { expect } from 'vitest';
import { b64, expectSuccess, type Api, type ApiResponse } from './http.js';
import { createKey } from './suite-server.js';
import type { ImportParametersReply, KeyReply, KeyView } from './wire-types.js';

export type KeyMaterialType = 'SYMMETRIC' | 'PRIVATE_KEY' | 'PUBLIC_KEY';

export async function getImportParameters(api: Api, keyId: string): Promise<ImportParametersReply> {
  return api.ok<ImportParametersReply>(
    'GET',
    `/v1/keys/import-parameters?keyId=${encodeURIComponent(keyId)}`,
  );
}

export function wrapForImport(parameters: ImportParametersReply, material: Buffer): Buffer {
  return publicEncrypt(
    { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    material,
  );
}

export async function importMaterial(
  api: Api,
  keyId: string,
  material: Buffer,
  keyMaterialType?: KeyMaterialType,
): Promise<ApiResponse<KeyReply>> {
  const parameters = await getImportParameters(api, keyId);
  return api.post<KeyReply>(`/v1/keys/${keyId}/import`, {
    importToken: parameters.importToken,
    encryptedKeyMaterial: b64(wrapForImport(parameters, material)),
    ...(keyMaterialType ? { keyMaterialType } : {}),
  });
}

/** Creates an EXTERNAL key and imports `material` into it; expects success. */
export async function createImportedKey(
  api: Api,
  input: { keySpec: string; keyUsage?: string },
  material: Buffer,
  keyMaterialType?: KeyMaterialType,
): Promise<KeyView> {
  const key = await createKey(api, { ...input, origin: 'EXTERNAL' });
  expect(key.state).toBe('PendingImport');
  const response = await importMaterial(api, key.keyId, material, keyMaterialType);
  expectSuccess(response, `import into ${input.keySpec}`);
  return response.body.key;
}
