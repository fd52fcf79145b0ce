import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GRANT_ACTIONS } from '../../src/domain/actions.js';
import { BUILTIN_ROLES, BUILTIN_ROLE_POLICIES, builtinRolePolicyId } from '../../src/domain/builtin-roles.js';
import {
  checkConstraints,
  checkOperations,
  constraintsHold,
  grantAllows,
  mintGrantToken,
  parseGrantToken,
  requiredGrantOperation,
  sameParameters,
  tokenMatches,
  withinParent,
  type Grant,
  type GrantParameters,
} from '../../src/domain/grant.js';
import { evaluatePolicies } from '../../src/domain/policy.js';

const grant = (overrides: Partial<Grant> = {}): Grant => ({
  grantId: randomBytes(32).toString('hex'),
  keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  tenant: 'acme',
  name: null,
  granteePrincipalId: 'p-1',
  granteePrincipal: 'arn:aws:iam::111122223333:user/p',
  retiringPrincipalId: null,
  retiringPrincipal: null,
  issuingPrincipalId: 'admin',
  operations: ['Encrypt', 'Decrypt'],
  constraints: null,
  createdAt: new Date(),
  tokenSecret: randomBytes(32),
  ...overrides,
});

const params = (overrides: Partial<GrantParameters> = {}): GrantParameters => ({
  granteePrincipalId: 'p-2',
  retiringPrincipalId: null,
  operations: ['Encrypt'],
  constraints: null,
  ...overrides,
});

describe('grant operations', () => {
  const symmetric = { keyId: 'k', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' } as const;
  const signing = { keyId: 'k', keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' } as const;
  const mac = { keyId: 'k', keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' } as const;

  it('accepts the operations a key supports, once each', () => {
    expect(checkOperations(['Encrypt', 'Decrypt', 'Encrypt', 'DescribeKey'], symmetric)).toEqual([
      'Encrypt',
      'Decrypt',
      'DescribeKey',
    ]);
    expect(checkOperations(['Sign', 'Verify', 'GetPublicKey', 'CreateGrant'], signing)).toHaveLength(4);
    expect(checkOperations(['GenerateMac', 'VerifyMac', 'RetireGrant'], mac)).toHaveLength(3);
  });

  it('refuses operations that do not fit the key, unknown operations and none at all', () => {
    expect(() => checkOperations(['Sign'], symmetric)).toThrow(/not supported by key/);
    expect(() => checkOperations(['GenerateDataKey'], signing)).toThrow(/not supported by key/);
    expect(() => checkOperations(['Encrypt'], mac)).toThrow(/not supported by key/);
    expect(() => checkOperations(['encrypt'], symmetric)).toThrow(/enum value set/);
    expect(() => checkOperations([], symmetric)).toThrow(/at least one/);
  });

  it('names the grant operation each request needs', () => {
    expect(requiredGrantOperation('Encrypt', ['Encrypt'])).toEqual({
      operation: 'Encrypt',
      takesContext: true,
    });
    expect(requiredGrantOperation('ReEncrypt', ['ReEncrypt', 'Decrypt'])?.operation).toBe('ReEncryptFrom');
    expect(requiredGrantOperation('ReEncrypt', ['ReEncrypt', 'Encrypt'])?.operation).toBe('ReEncryptTo');
    expect(requiredGrantOperation('GenerateDataKey', ['GenerateDataKey'])?.operation).toBe('GenerateDataKey');
    expect(requiredGrantOperation('GenerateDataKeyWithoutPlaintext', ['GenerateDataKey'])?.operation).toBe(
      'GenerateDataKeyWithoutPlaintext',
    );
    expect(requiredGrantOperation('Sign', ['Sign'])).toEqual({ operation: 'Sign', takesContext: false });
    expect(requiredGrantOperation('DescribeKey', ['DescribeKey'])?.operation).toBe('DescribeKey');
    // Authorized as DescribeKey, but no DescribeKey grant reaches them (AWS grants neither).
    expect(requiredGrantOperation('ListResourceTags', ['DescribeKey'])).toBeUndefined();
    expect(requiredGrantOperation('GetKeyRotationStatus', ['DescribeKey'])).toBeUndefined();
    expect(requiredGrantOperation('Decrypt', ['AsymmetricDecrypt'])).toEqual({
      operation: 'Decrypt',
      takesContext: false,
    });
    // Nothing a grant can give: administration of the key.
    expect(requiredGrantOperation('RevokeGrant', ['RevokeGrant'])).toBeUndefined();
    expect(requiredGrantOperation('DisableKey', ['DisableKey'])).toBeUndefined();
    expect(requiredGrantOperation('PutKeyPolicy', ['PutKeyPolicy'])).toBeUndefined();
  });
});

describe('grant constraints', () => {
  it('refuses Subset and Equals together', () => {
    expect(() =>
      checkConstraints({ encryptionContextSubset: { a: '1' }, encryptionContextEquals: { a: '1' } }),
    ).toThrow(/not both/);
    expect(checkConstraints({})).toBeNull();
    expect(checkConstraints(undefined)).toBeNull();
  });

  it('Subset: every pair present, more allowed; keys without case, values exactly', () => {
    const subset = { encryptionContextSubset: { app: 'x' } };
    expect(constraintsHold(subset, { app: 'x' })).toBe(true);
    expect(constraintsHold(subset, { app: 'x', other: 'y' })).toBe(true);
    expect(constraintsHold(subset, { APP: 'x' })).toBe(true);
    expect(constraintsHold(subset, { app: 'X' })).toBe(false);
    expect(constraintsHold(subset, { app: 'y' })).toBe(false);
    expect(constraintsHold(subset, {})).toBe(false);
    expect(constraintsHold(subset, undefined)).toBe(false);
  });

  it('a context with one key in two cases meets no constraint (neither spelling slips past)', () => {
    expect(constraintsHold({ encryptionContextEquals: { dept: 'A' } }, { dept: 'B', DEPT: 'A' })).toBe(false);
    expect(
      constraintsHold({ encryptionContextSubset: { tenant: 'acme' } }, { tenant: 'globex', TENANT: 'acme' }),
    ).toBe(false);
  });

  it('Equals: exactly the pairs', () => {
    const equals = { encryptionContextEquals: { app: 'x', env: 'prod' } };
    expect(constraintsHold(equals, { env: 'prod', app: 'x' })).toBe(true);
    expect(constraintsHold(equals, { app: 'x' })).toBe(false);
    expect(constraintsHold(equals, { app: 'x', env: 'prod', more: '1' })).toBe(false);
  });

  it('applies constraints only to operations that take a context', () => {
    const constrained = grant({
      operations: ['Encrypt', 'DescribeKey'],
      constraints: { encryptionContextSubset: { app: 'x' } },
    });
    const encrypt = requiredGrantOperation('Encrypt', ['Encrypt'])!;
    const describe = requiredGrantOperation('DescribeKey', ['DescribeKey'])!;
    expect(grantAllows(constrained, 'p-1', encrypt, { app: 'x' })).toBe(true);
    expect(grantAllows(constrained, 'p-1', encrypt, undefined)).toBe(false);
    expect(grantAllows(constrained, 'p-1', describe, undefined)).toBe(true);
    expect(grantAllows(constrained, 'p-2', encrypt, { app: 'x' })).toBe(false);
    expect(
      grantAllows(constrained, 'p-1', requiredGrantOperation('Decrypt', ['Decrypt'])!, { app: 'x' }),
    ).toBe(false);
  });

  it('lets a grant create only grants within it: fewer operations, constraints at least as strict', () => {
    const parent = grant({
      operations: ['Encrypt', 'Decrypt', 'CreateGrant'],
      constraints: { encryptionContextSubset: { app: 'x' } },
    });
    const subset = (pairs: Record<string, string>) => ({ encryptionContextSubset: pairs });
    expect(withinParent(params({ constraints: subset({ app: 'x' }) }), parent)).toBe(true);
    expect(withinParent(params({ constraints: subset({ app: 'x', env: 'p' }) }), parent)).toBe(true);
    expect(withinParent(params({ constraints: { encryptionContextEquals: { app: 'x' } } }), parent)).toBe(
      true,
    );
    expect(withinParent(params({ constraints: null }), parent)).toBe(false);
    expect(withinParent(params({ constraints: subset({ app: 'y' }) }), parent)).toBe(false);
    expect(withinParent(params({ operations: ['Sign'], constraints: subset({ app: 'x' }) }), parent)).toBe(
      false,
    );
    const equalsParent = grant({
      operations: ['Encrypt'],
      constraints: { encryptionContextEquals: { a: '1' } },
    });
    expect(withinParent(params({ constraints: { encryptionContextEquals: { a: '1' } } }), equalsParent)).toBe(
      true,
    );
    expect(withinParent(params({ constraints: subset({ a: '1' }) }), equalsParent)).toBe(false);
    expect(withinParent(params(), grant({ operations: ['Encrypt'] }))).toBe(true);
  });

  it('sees a Name retry with the same parameters, in any order, as the same grant', () => {
    const a = params({
      operations: ['Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { x: '1' } },
    });
    const b = params({
      operations: ['Decrypt', 'Encrypt'],
      constraints: { encryptionContextSubset: { x: '1' } },
    });
    expect(sameParameters(a, b)).toBe(true);
    expect(sameParameters(a, { ...b, constraints: { encryptionContextEquals: { x: '1' } } })).toBe(false);
    expect(sameParameters(a, { ...b, retiringPrincipalId: 'r' })).toBe(false);
    expect(sameParameters(a, { ...b, operations: ['Encrypt'] })).toBe(false);
  });
});

describe('grant tokens', () => {
  it('round-trips: a fresh token every time, each naming its grant and matching it', () => {
    const g = grant();
    const first = mintGrantToken(g.grantId, g.tokenSecret, randomBytes(16));
    const second = mintGrantToken(g.grantId, g.tokenSecret, randomBytes(16));
    expect(first).not.toBe(second);
    for (const token of [first, second]) {
      const parts = parseGrantToken(token)!;
      expect(parts.grantId).toBe(g.grantId);
      expect(tokenMatches(parts, g)).toBe(true);
    }
  });

  it('is unforgeable: another secret, a changed byte or another grant id does not match', () => {
    const g = grant();
    const token = mintGrantToken(g.grantId, randomBytes(32), randomBytes(16));
    expect(tokenMatches(parseGrantToken(token)!, g)).toBe(false);
    const genuine = Buffer.from(mintGrantToken(g.grantId, g.tokenSecret, randomBytes(16)), 'base64url');
    genuine[40]! ^= 1;
    expect(tokenMatches(parseGrantToken(genuine.toString('base64url'))!, g)).toBe(false);
    const other = grant({ tokenSecret: g.tokenSecret });
    expect(
      tokenMatches(parseGrantToken(mintGrantToken(other.grantId, g.tokenSecret, randomBytes(16)))!, g),
    ).toBe(false);
  });

  it('refuses anything not in its format', () => {
    const g = grant();
    const token = mintGrantToken(g.grantId, g.tokenSecret, randomBytes(16));
    for (const bad of [
      '',
      'not a token',
      token.slice(1),
      `${token}A`,
      token.replace(/^./, '+'),
      'x'.repeat(8192),
    ]) {
      expect(parseGrantToken(bad), bad.slice(0, 20)).toBeUndefined();
    }
    const wrongVersion = Buffer.from(token, 'base64url');
    wrongVersion[0] = 2;
    expect(parseGrantToken(wrongVersion.toString('base64url'))).toBeUndefined();
  });
});

describe('built-in roles and grant actions', () => {
  const allowed = (role: (typeof BUILTIN_ROLES)[number], action: string) =>
    evaluatePolicies(
      BUILTIN_ROLES.map((r) => ({
        ref: { policyId: builtinRolePolicyId(r), version: 1 },
        document: BUILTIN_ROLE_POLICIES[r],
      })),
      {
        principal: { id: 'p', tenant: 'acme', roles: [role], attributes: {} },
        action,
        key: { keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', aliases: [], tags: {} },
        sourceIp: '10.0.0.1',
        at: new Date(),
      },
    ).allowed;

  it('admin does everything; key-admin all but CreateGrant; auditor lists; crypto-user nothing', () => {
    const expected: Record<string, readonly string[]> = {
      admin: GRANT_ACTIONS,
      'key-admin': ['ListGrants', 'RetireGrant', 'RevokeGrant', 'ListRetirableGrants'],
      auditor: ['ListGrants', 'ListRetirableGrants'],
      'crypto-user': [],
    };
    for (const role of BUILTIN_ROLES) {
      const granted = GRANT_ACTIONS.filter((action) => allowed(role, action));
      expect(granted, role).toEqual(GRANT_ACTIONS.filter((a) => expected[role]!.includes(a)));
    }
  });
});
