// Grants (AWS KMS "Grants in AWS KMS"): a delegation of some operations on one key to one principal,
// optionally only under an encryption context. Pure: the model, which operations fit which key,
// which grant operation a request needs, constraint matching, and the grant token's format.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EncryptionContext } from './encryption-context.js';
import { KmsError, validationError } from './errors.js';
import type { Key } from './key.js';
import { isAsymmetric } from './key-spec.js';

/** AWS's GrantOperation enum, in AWS's order. */
export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

export interface GrantConstraints {
  /** The request's context must hold every pair (keys compared without case, values exactly). */
  encryptionContextSubset?: Record<string, string>;
  /** The request's context must be exactly these pairs (keys compared without case). */
  encryptionContextEquals?: Record<string, string>;
}

export interface Grant {
  /** 64 lowercase hex digits, as AWS's grant ids. */
  grantId: string;
  keyId: string;
  /** The key's tenant: grants never cross tenants. */
  tenant: string;
  name: string | null;
  granteePrincipalId: string;
  /** The grantee as the creator named it (echoed by ListGrants). */
  granteePrincipal: string;
  retiringPrincipalId: string | null;
  retiringPrincipal: string | null;
  /** Who created the grant. */
  issuingPrincipalId: string;
  operations: GrantOperation[];
  constraints: GrantConstraints | null;
  createdAt: Date;
  /** The grant's own MAC key for its tokens (random, never shown). */
  tokenSecret: Buffer;
}

/** What a grant delegates: everything but its identity, for Name idempotency. */
export type GrantParameters = Pick<
  Grant,
  'granteePrincipalId' | 'retiringPrincipalId' | 'operations' | 'constraints'
>;

/** Management operations every key takes (AWS "Grant operations"). */
const ANY_KEY: readonly GrantOperation[] = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

/** The grant operations a key's usage and spec support (AWS refuses others with ValidationException). */
export function operationsFor(key: Pick<Key, 'keySpec' | 'keyUsage'>): readonly GrantOperation[] {
  switch (key.keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return isAsymmetric(key.keySpec)
        ? ['Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', ...ANY_KEY]
        : [
            'Decrypt',
            'Encrypt',
            'GenerateDataKey',
            'GenerateDataKeyWithoutPlaintext',
            'ReEncryptFrom',
            'ReEncryptTo',
            'GenerateDataKeyPair',
            'GenerateDataKeyPairWithoutPlaintext',
            ...ANY_KEY,
          ];
    case 'SIGN_VERIFY':
      return ['Sign', 'Verify', 'GetPublicKey', ...ANY_KEY];
    case 'GENERATE_VERIFY_MAC':
      return ['GenerateMac', 'VerifyMac', ...ANY_KEY];
    case 'KEY_AGREEMENT':
      return ['DeriveSharedSecret', 'GetPublicKey', ...ANY_KEY];
  }
}

/** A grant's operations, checked: known, not repeated, and supported by the key. */
export function checkOperations(
  operations: readonly string[],
  key: Pick<Key, 'keyId' | 'keySpec' | 'keyUsage'>,
): GrantOperation[] {
  if (operations.length === 0) throw validationError('Operations must name at least one grant operation');
  const unknown = operations.filter((op) => !(GRANT_OPERATIONS as readonly string[]).includes(op));
  if (unknown.length > 0) {
    throw validationError(
      `1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must satisfy enum value set: [${GRANT_OPERATIONS.join(', ')}]`,
    );
  }
  const supported = operationsFor(key);
  const unfit = operations.filter((op) => !supported.includes(op as GrantOperation));
  if (unfit.length > 0) {
    throw validationError(
      `Grant operations ${unfit.join(', ')} are not supported by key ${key.keyId} (${key.keySpec}, ${key.keyUsage})`,
    );
  }
  return [...new Set(operations as GrantOperation[])];
}

/** Constraints, checked: at most one of Subset and Equals (AWS), each a map of strings. */
export function checkConstraints(constraints: GrantConstraints | undefined): GrantConstraints | null {
  if (!constraints) return null;
  const { encryptionContextSubset: subset, encryptionContextEquals: equals } = constraints;
  if (subset !== undefined && equals !== undefined) {
    throw validationError(
      'Constraints may hold EncryptionContextSubset or EncryptionContextEquals, not both',
    );
  }
  if (subset === undefined && equals === undefined) return null;
  return subset !== undefined ? { encryptionContextSubset: subset } : { encryptionContextEquals: equals! };
}

/**
 * The grant operation a request needs, from the API action and the policy actions the service
 * authorizes (a composite names itself and what it does to the key: ReEncrypt's source is
 * ['ReEncrypt', 'Decrypt'], its destination ['ReEncrypt', 'Encrypt']). `takesContext` says whether
 * encryption context constraints apply (AWS: only to operations that take a context; not to
 * asymmetric or HMAC operations, nor to DescribeKey, CreateGrant or RetireGrant). Undefined: no
 * grant can allow the request.
 */
export function requiredGrantOperation(
  apiAction: string,
  actions: readonly string[],
): { operation: GrantOperation; takesContext: boolean } | undefined {
  const withoutPlaintext = apiAction.endsWith('WithoutPlaintext');
  const crypto = (operation: GrantOperation) => ({ operation, takesContext: true });
  const plain = (operation: GrantOperation) => ({ operation, takesContext: false });
  switch (actions.join(',')) {
    case 'DescribeKey':
      // ListResourceTags and GetKeyRotationStatus are authorized as DescribeKey too; a DescribeKey
      // grant allows DescribeKey only, as in AWS.
      return apiAction === 'DescribeKey' ? plain('DescribeKey') : undefined;
    case 'Encrypt':
    case 'EncryptBatch,Encrypt':
      return crypto('Encrypt');
    case 'Decrypt':
    case 'DecryptBatch,Decrypt':
      return crypto('Decrypt');
    case 'ReEncrypt,Decrypt':
      return crypto('ReEncryptFrom');
    case 'ReEncrypt,Encrypt':
      return crypto('ReEncryptTo');
    case 'GenerateDataKey':
      return crypto(withoutPlaintext ? 'GenerateDataKeyWithoutPlaintext' : 'GenerateDataKey');
    case 'GenerateDataKeyPair':
      return crypto(withoutPlaintext ? 'GenerateDataKeyPairWithoutPlaintext' : 'GenerateDataKeyPair');
    case 'AsymmetricEncrypt':
      return plain('Encrypt');
    case 'AsymmetricDecrypt':
      return plain('Decrypt');
    case 'Sign':
    case 'Verify':
    case 'GenerateMac':
    case 'VerifyMac':
    case 'GetPublicKey':
    case 'CreateGrant':
    case 'RetireGrant':
      return plain(actions[0] as GrantOperation);
    default:
      return undefined;
  }
}

/** Context pairs with their keys folded: grant constraints compare keys without case (AWS). */
function folded(context: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Whether the request's context satisfies the constraints (none: always). */
export function constraintsHold(
  constraints: GrantConstraints | null,
  context: EncryptionContext | undefined,
): boolean {
  if (!constraints) return true;
  const actual = folded(context ?? {});
  // A key given twice in two cases (`dept`, `DEPT`) is ambiguous: such a context meets no constraint.
  if (actual.size !== Object.keys(context ?? {}).length) return false;
  const required = folded(constraints.encryptionContextSubset ?? constraints.encryptionContextEquals ?? {});
  for (const [k, v] of required) if (actual.get(k) !== v) return false;
  return constraints.encryptionContextEquals === undefined || actual.size === required.size;
}

/** Whether the grant lets `principalId` do `need` under `context`. */
export function grantAllows(
  grant: Grant,
  principalId: string,
  need: { operation: GrantOperation; takesContext: boolean },
  context: EncryptionContext | undefined,
): boolean {
  return (
    grant.granteePrincipalId === principalId &&
    grant.operations.includes(need.operation) &&
    (!need.takesContext || constraintsHold(grant.constraints, context))
  );
}

/**
 * Whether a grant created by the grantee of `parent` (through its CreateGrant operation) stays
 * within it (AWS): a subset of its operations, and constraints at least as strict. Equals can only
 * be narrowed to the same Equals; Subset to a Subset or Equals holding every pair of the parent's.
 */
export function withinParent(child: GrantParameters, parent: Grant): boolean {
  if (!child.operations.every((op) => parent.operations.includes(op))) return false;
  const limit = parent.constraints;
  if (!limit) return true;
  const own = child.constraints;
  if (!own) return false;
  if (limit.encryptionContextEquals) {
    return (
      own.encryptionContextEquals !== undefined &&
      sameContext(own.encryptionContextEquals, limit.encryptionContextEquals)
    );
  }
  const ownPairs = folded(own.encryptionContextSubset ?? own.encryptionContextEquals ?? {});
  for (const [k, v] of folded(limit.encryptionContextSubset ?? {})) if (ownPairs.get(k) !== v) return false;
  return true;
}

function sameContext(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const left = folded(a);
  const right = folded(b);
  return left.size === right.size && [...left].every(([k, v]) => right.get(k) === v);
}

/** Same grantee, retiring principal, operations (in any order) and constraints: a Name retry. */
export function sameParameters(a: GrantParameters, b: GrantParameters): boolean {
  const ops = (g: GrantParameters) => [...g.operations].sort().join(',');
  const constraint = (g: GrantParameters) =>
    g.constraints?.encryptionContextEquals
      ? `eq:${canonical(g.constraints.encryptionContextEquals)}`
      : g.constraints?.encryptionContextSubset
        ? `sub:${canonical(g.constraints.encryptionContextSubset)}`
        : '';
  return (
    a.granteePrincipalId === b.granteePrincipalId &&
    a.retiringPrincipalId === b.retiringPrincipalId &&
    ops(a) === ops(b) &&
    constraint(a) === constraint(b)
  );
}

const canonical = (context: Readonly<Record<string, string>>) =>
  JSON.stringify([...folded(context)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export const GRANT_ID = /^[0-9a-f]{64}$/;

/** AWS's grant names: 1 to 256 of [a-zA-Z0-9:/_-]. */
export const GRANT_NAME = /^[a-zA-Z0-9:/_-]{1,256}$/;

// A grant token: base64url of version byte 1, the grant id (32 bytes), a nonce (16 bytes) and
// HMAC-SHA-256 under the grant's own token secret over the rest. Every CreateGrant call answers
// a fresh token (AWS: tokens of one grant are interchangeable); only the server can mint one.
const TOKEN_VERSION = 1;
const TOKEN_BYTES = 1 + 32 + 16 + 32;

export interface GrantTokenParts {
  grantId: string;
  /** The bytes the MAC covers, then the MAC. */
  signed: Buffer;
  mac: Buffer;
}

export function mintGrantToken(grantId: string, secret: Buffer, nonce: Buffer): string {
  const signed = Buffer.concat([Buffer.from([TOKEN_VERSION]), Buffer.from(grantId, 'hex'), nonce]);
  return Buffer.concat([signed, tokenMac(secret, signed)]).toString('base64url');
}

/** The token's parts if it has this server's format; undefined for anything else. */
export function parseGrantToken(token: string): GrantTokenParts | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES || bytes[0] !== TOKEN_VERSION || bytes.toString('base64url') !== token) {
    return undefined;
  }
  return {
    grantId: bytes.subarray(1, 33).toString('hex'),
    signed: bytes.subarray(0, 49),
    mac: bytes.subarray(49),
  };
}

/** Whether the token was minted for this grant (constant time). */
export function tokenMatches(parts: GrantTokenParts, grant: Grant): boolean {
  return (
    parts.grantId === grant.grantId && timingSafeEqual(parts.mac, tokenMac(grant.tokenSecret, parts.signed))
  );
}

const tokenMac = (secret: Buffer, signed: Buffer) =>
  createHmac('sha256', secret).update('keyhaven-grant-token').update(signed).digest();

/** AWS's InvalidGrantTokenException. */
export const invalidGrantToken = (message = 'The grant token is not valid') =>
  new KmsError('ValidationError', message, { validation: 'InvalidGrantToken' });

/** AWS's InvalidGrantIdException. */
export const invalidGrantId = (message = 'The grant id is not valid') =>
  new KmsError('ValidationError', message, { validation: 'InvalidGrantId' });

/** The policy id a grant's decisions are attributed to (`decidedBy.policyId`). */
export const grantPolicyId = (grantId: string) => `grant:${grantId}`;
