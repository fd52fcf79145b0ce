// AWS's KeyMetadata for a key, as DescribeKey, CreateKey and the rest answer it.
import { encryptionAlgorithmsFor, macAlgorithmFor, signingAlgorithmsFor } from '../../../domain/key-spec.js';
import type { KeyDescription } from '../../../services/key-records.js';
import { accountIdOf, keyArn, type ArnScope } from '../key-references.js';
import { epochSeconds, type Members } from '../wire.js';

export function keyMetadata(key: KeyDescription, arns: ArnScope): Members {
  const metadata: Members = {
    AWSAccountId: accountIdOf(key.tenant, arns),
    KeyId: key.keyId,
    Arn: keyArn(key.keyId, key.tenant, arns),
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.state,
    Origin: originOf(key),
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
  };
  if (key.protectionLevel === 'EXTERNAL') metadata.CustomKeyStoreId = EXTERNAL_KEY_STORE_ID;
  if (key.deletionDate) metadata.DeletionDate = epochSeconds(key.deletionDate);
  if (key.expiresAt) {
    metadata.ValidTo = epochSeconds(key.expiresAt);
    metadata.ExpirationModel = 'KEY_MATERIAL_EXPIRES';
  } else if (key.origin === 'EXTERNAL') {
    metadata.ExpirationModel = 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  }
  if (key.keyUsage === 'ENCRYPT_DECRYPT')
    metadata.EncryptionAlgorithms = encryptionAlgorithmsFor(key.keySpec);
  if (key.keyUsage === 'SIGN_VERIFY') metadata.SigningAlgorithms = signingAlgorithmsFor(key.keySpec);
  const mac = macAlgorithmFor(key.keySpec);
  if (key.keyUsage === 'GENERATE_VERIFY_MAC' && mac) metadata.MacAlgorithms = [mac];
  return metadata;
}

/**
 * The id AWS's CustomKeyStoreId takes for Keyhaven's external key store: its configured providers
 * (docs/external-keys.md), which hold every EXTERNAL key.
 */
export const EXTERNAL_KEY_STORE_ID = 'keyhaven-external';

/** AWS's origin: EXTERNAL_KEY_STORE for keys held outside (Keyhaven's EXTERNAL protection level). */
function originOf(key: KeyDescription): string {
  if (key.protectionLevel === 'EXTERNAL') return 'EXTERNAL_KEY_STORE';
  return key.origin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS';
}
