// BYOK as a client does it: fetch import parameters, wrap the material under the wrapping public key
// (node:crypto: RSA-OAEP-SHA-256, or AWS's RSA_AES_KEY_WRAP_SHA_256 when the material does not fit
// one OAEP block), and POST it with the import token.
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { b64, expectSuccess, type Api, type ApiResponse } from './http.js';
import { createKey } from './suite-server.js';
import type { ImportParametersReply, KeyReply, KeyView } from './wire-types.js';

export type KeyMaterialType = 'SYMMETRIC' | 'PRIVATE_KEY' | 'PUBLIC_KEY';

/**
 * The wrapping key the import helpers ask for. RSA_3072 (the server's default, which
 * byok.test.ts checks) costs the server a key generation about twice as long as RSA_2048's, once
 * per import: the helpers, run hundreds of times by the suite, use RSA_2048 where the spec is not
 * what a test is about.
 */
export const HELPER_WRAPPING_KEY_SPEC = 'RSA_2048';

export async function getImportParameters(
  api: Api,
  keyId: string,
  wrappingKeySpec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'server default' = HELPER_WRAPPING_KEY_SPEC,
): Promise<ImportParametersReply> {
  const spec = wrappingKeySpec === 'server default' ? '' : `&wrappingKeySpec=${wrappingKeySpec}`;
  return api.ok<ImportParametersReply>(
    'GET',
    `/v1/keys/import-parameters?keyId=${encodeURIComponent(keyId)}${spec}`,
  );
}

/** RSA-OAEP-SHA-256 under an RSA wrapping key of `modulusBits` holds modulusBits/8 - 2*32 - 2 bytes. */
export const maxOaepImportBytes = (modulusBits: number) => modulusBits / 8 - 2 * 32 - 2;

export type ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_256';

/** The algorithm a client picks for `material`: one OAEP block if it fits under the wrapping key. */
export const wrappingAlgorithmFor = (
  material: Buffer,
  wrappingPublicKey?: string,
): ImportWrappingAlgorithm => {
  const bits = wrappingPublicKey
    ? (createPublicKey(wrappingPublicKey).asymmetricKeyDetails?.modulusLength ?? 2048)
    : 2048;
  return material.length <= maxOaepImportBytes(bits) ? 'RSAES_OAEP_SHA_256' : 'RSA_AES_KEY_WRAP_SHA_256';
};

export function wrapForImport(
  parameters: ImportParametersReply,
  material: Buffer,
  algorithm: ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_256',
): Buffer {
  const oaep = (data: Buffer) =>
    publicEncrypt(
      { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      data,
    );
  if (algorithm === 'RSAES_OAEP_SHA_256') return oaep(material);
  const aesKey = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([oaep(aesKey), kwp.update(material), kwp.final()]);
}

export async function importMaterial(
  api: Api,
  keyId: string,
  material: Buffer,
  keyMaterialType?: KeyMaterialType,
): Promise<ApiResponse<KeyReply>> {
  const parameters = await getImportParameters(api, keyId);
  const wrappingAlgorithm = wrappingAlgorithmFor(material, parameters.wrappingPublicKey);
  return api.post<KeyReply>(`/v1/keys/${keyId}/import`, {
    importToken: parameters.importToken,
    encryptedKeyMaterial: b64(wrapForImport(parameters, material, wrappingAlgorithm)),
    ...(keyMaterialType ? { keyMaterialType } : {}),
    ...(wrappingAlgorithm === 'RSAES_OAEP_SHA_256' ? {} : { wrappingAlgorithm }),
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
