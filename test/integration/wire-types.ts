// Wire shapes of API.md as the integration suite reads them (written from the contract, not imported
// from the server, so a server-side change to a shape shows up as a failing test).

export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

export interface KeyView {
  keyId: string;
  arn?: string;
  alias?: string;
  aliases: string[];
  keySpec: string;
  keyUsage: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'Unavailable';
  protectionLevel: string;
  origin: 'KEYHAVEN' | 'EXTERNAL';
  currentVersion: number;
  createdAt: string;
  description: string;
  tags: Record<string, string>;
  rotationPeriodDays?: number | null;
  nextRotationAt?: string | null;
  expiresAt?: string | null;
  deletionDate?: string | null;
  publicKeyOnly?: boolean;
}

export interface KeyReply {
  key: KeyView;
}

export interface KeyListReply {
  keys: KeyView[];
  nextCursor: string | null;
}

export interface VersionsReply {
  versions: { version: number; state: string; createdAt: string }[];
}

export interface PublicKeyReply {
  keyId: string;
  keySpec: string;
  publicKey: string;
  spki: string;
}

export interface UsageReply {
  keyId: string;
  lastUsedAt: string | null;
  [operation: string]: number | string | null;
}

export interface ImportParametersReply {
  keyId: string;
  importToken: string;
  wrappingPublicKey: string;
  wrappingAlgorithm: string;
  expiresAt: string;
}

export interface EncryptReply {
  keyId: string;
  keyVersion: number;
  ciphertext: string;
}

export interface DecryptReply {
  keyId: string;
  keyVersion: number;
  plaintext: string;
}

export type BatchItem<T> = T | { error: { code: string; message: string } };

export interface BatchReply<T> {
  results: BatchItem<T>[];
}

export interface DataKeyReply {
  keyId: string;
  keyVersion: number;
  ciphertext: string;
  plaintext?: string;
}

export interface DataKeyPairReply {
  keyId: string;
  keyPairSpec: string;
  publicKey: string;
  privateKeyCiphertext: string;
  privateKeyPlaintext?: string;
}

export interface SignReply {
  keyId: string;
  keyVersion: number;
  signature: string;
  algorithm: string;
}

export interface ValidReply {
  valid: boolean;
}

export interface MacReply {
  keyId: string;
  keyVersion: number;
  mac: string;
}

export interface AliasView {
  name: string;
  keyId: string;
  createdAt?: string;
}

export const isBatchError = <T>(item: BatchItem<T>): item is { error: { code: string; message: string } } =>
  typeof item === 'object' && item !== null && 'error' in item;
