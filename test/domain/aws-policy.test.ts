// The translation of AWS key policies into Keyhaven's documents: every element mapped, every one
// Keyhaven cannot honour exactly refused as MalformedPolicyDocument, and the result evaluated.
import { describe, expect, it } from 'vitest';
import {
  CRYPTO_ACTIONS,
  GRANT_ACTIONS,
  IDENTITY_ACTIONS,
  IDENTITY_READ_ACTIONS,
  LIFECYCLE_ACTIONS,
  READ_ACTIONS,
} from '../../src/domain/actions.js';
import { AWS_ACTIONS } from '../../src/transports/aws/actions/index.js';
import {
  AWS_PERMISSIONS,
  defaultAwsKeyPolicy,
  isAwsPolicyDocument,
  keyhavenActionOf,
  parseAwsPolicyText,
  translateAwsPolicy,
  type AwsPolicyScope,
} from '../../src/domain/aws-policy.js';
import { KmsError } from '../../src/domain/errors.js';
import {
  evaluatePolicies,
  globMatches,
  parsePolicyDocument,
  type AccessRequest,
} from '../../src/domain/policy.js';

const ACCOUNT = '111122223333';
/** What kms:Encrypt and kms:Decrypt are authorized as: every Keyhaven way to that use of a key. */
const ENCRYPT_ACTIONS = ['Encrypt', 'EncryptBatch', 'AsymmetricEncrypt', 'WrapKey'];
const DECRYPT_ACTIONS = ['Decrypt', 'DecryptBatch', 'AsymmetricDecrypt', 'UnwrapKey'];
const OTHER = '444455556666';
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/k1`;
const ROOT = {
  Sid: 'Enable IAM User Permissions',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};
const PRINCIPALS: Record<string, { principalId: string; type: 'user' | 'service' }> = {
  alice: { principalId: 'p-alice', type: 'user' },
  batch: { principalId: 'p-batch', type: 'service' },
};
const scope: AwsPolicyScope = {
  keyTenant: 't1',
  accounts: new Map([[ACCOUNT, 't1']]),
  keyArn: KEY_ARN,
  findPrincipal: async (tenant, name) => (tenant === 't1' ? PRINCIPALS[name] : undefined),
};
const policy = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: [ROOT, ...statements] });
const translate = (input: unknown) => translateAwsPolicy(input, scope);

async function refusal(input: unknown): Promise<string> {
  const error = await translate(input).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).code).toBe('ValidationError');
  expect((error as KmsError).validation).toBe('MalformedPolicyDocument');
  return (error as KmsError).message;
}

const request = (over: Partial<AccessRequest> = {}): AccessRequest => ({
  principal: { id: 'p-alice', tenant: 't1', roles: [], attributes: {} },
  action: 'Encrypt',
  key: { keyId: 'k1', aliases: [], tags: {} },
  sourceIp: '127.0.0.1',
  at: new Date(),
  ...over,
});
const allowed = async (input: unknown, req: AccessRequest) =>
  evaluatePolicies([{ ref: { policyId: 'kp', version: 1 }, document: await translate(input) }], req).allowed;

describe('AWS key policies translated', () => {
  it('takes the default key policy, which delegates to the tenant: nothing is added', async () => {
    const text = defaultAwsKeyPolicy(ACCOUNT);
    expect(isAwsPolicyDocument(parseAwsPolicyText(text))).toBe(true);
    expect(await translate(parseAwsPolicyText(text))).toEqual({ statements: [] });
    expect(await translate({ Statement: { ...ROOT, Principal: { AWS: ACCOUNT } } })).toEqual({
      statements: [],
    });
  });

  it('maps users to user principals and roles to service principals, by name', async () => {
    const document = await translate(
      policy({
        Sid: 'Use',
        Effect: 'Allow',
        Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:user/alice`, `arn:aws:iam::${ACCOUNT}:role/batch`] },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        Resource: KEY_ARN,
      }),
    );
    expect(document.statements).toEqual([
      {
        sid: 'Use',
        effect: 'allow',
        principals: ['principal:p-alice', 'principal:p-batch'],
        actions: [
          ...ENCRYPT_ACTIONS,
          ...DECRYPT_ACTIONS,
          'ReEncrypt',
          'GenerateDataKey',
          'DeriveKey',
          'GenerateDataKeyPair',
          'DescribeKey',
          'GetKeyUsage',
        ],
        resources: ['*'],
      },
    ]);
    expect(
      await refusal(
        policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/alice` },
          Action: 'kms:Encrypt',
          Resource: '*',
        }),
      ),
    ).toMatch(/names no principal/);
    expect(
      await refusal(
        policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/nobody` },
          Action: 'kms:Encrypt',
          Resource: '*',
        }),
      ),
    ).toMatch(/names no principal/);
  });

  it('maps a Deny to the root as every principal of the tenant, and "*" as everyone', async () => {
    const document = await translate(
      policy(
        {
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:ScheduleKeyDeletion',
          Resource: '*',
        },
        { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' },
      ),
    );
    expect(document.statements.map((s) => [s.effect, s.principals, s.actions])).toEqual([
      ['deny', ['tenant:t1'], ['ScheduleKeyDeletion']],
      ['deny', ['*'], DECRYPT_ACTIONS],
    ]);
  });

  it('maps every AWS action onto the Keyhaven action the dialect authorizes it as', () => {
    expect(keyhavenActionOf('kms:TagResource')).toBe('UpdateKey');
    expect(keyhavenActionOf('kms:untagresource')).toBe('UpdateKey');
    expect(keyhavenActionOf('kms:RotateKeyOnDemand')).toBe('RotateKey');
    expect(keyhavenActionOf('kms:CreateAlias')).toBe('PutAlias');
    expect(keyhavenActionOf('kms:UpdateAlias')).toBe('PutAlias');
    expect(keyhavenActionOf('kms:GetParametersForImport')).toBe('GetImportParameters');
    expect(keyhavenActionOf('kms:ReEncryptTo')).toBe('ReEncrypt');
    expect(keyhavenActionOf('kms:GenerateDataKeyPairWithoutPlaintext')).toBe('GenerateDataKeyPair');
    expect(keyhavenActionOf('kms:ListResourceTags')).toBe('DescribeKey');
    expect(keyhavenActionOf('kms:GetKeyRotationStatus')).toBe('DescribeKey');
    expect(keyhavenActionOf('kms:ListKeyRotations')).toBe('ListKeyVersions');
    expect(keyhavenActionOf('kms:CreateGrant')).toBe('CreateGrant');
    expect(keyhavenActionOf('kms:RevokeGrant')).toBe('RevokeGrant');
    expect(keyhavenActionOf('kms:CreateKey')).toBeNull();
    expect(keyhavenActionOf('kms:Nonsense')).toBeUndefined();
  });

  it('refuses an Allow naming part of what a Keyhaven action serves, but not a Deny', async () => {
    expect(
      await refusal(policy({ Effect: 'Allow', Principal: '*', Action: 'kms:TagResource', Resource: '*' })),
    ).toMatch(/UpdateKey.*kms:UntagResource/);
    expect(
      await refusal(
        policy({ Effect: 'Allow', Principal: '*', Action: 'kms:ListResourceTags', Resource: '*' }),
      ),
    ).toMatch(/kms:DescribeKey/);
    const deny = await translate(
      policy({ Effect: 'Deny', Principal: '*', Action: 'kms:TagResource', Resource: '*' }),
    );
    expect(deny.statements[0]!.actions).toEqual(['UpdateKey']);
    const admin = await translate(
      policy({
        Effect: 'Allow',
        Principal: '*',
        Action: [
          'kms:Create*',
          'kms:Describe*',
          'kms:Enable*',
          'kms:List*',
          'kms:Put*',
          'kms:Update*',
          'kms:Revoke*',
          'kms:Disable*',
          'kms:Get*',
          'kms:Delete*',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:ScheduleKeyDeletion',
          'kms:CancelKeyDeletion',
          'kms:RotateKeyOnDemand',
        ],
        Resource: '*',
      }),
    );
    expect(admin.statements[0]!.actions).toEqual(
      expect.arrayContaining(['UpdateKey', 'PutAlias', 'PutKeyPolicy', 'DescribeKey']),
    );
  });

  it('translates encryption-context conditions and evaluates them as AWS does', async () => {
    const input = policy({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` },
      Action: 'kms:Encrypt',
      Resource: '*',
      Condition: {
        StringEquals: { 'kms:EncryptionContext:app': ['billing', 'ledger'] },
        StringLike: { 'kms:EncryptionContext:path': 'invoices/*' },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app', 'path'] },
      },
    });
    expect(await allowed(input, request({ context: { app: 'ledger', path: 'invoices/1' } }))).toBe(true);
    // The key name ignores case, as AWS's condition keys do; the value does not.
    expect(await allowed(input, request({ context: { APP: 'ledger', path: 'invoices/1' } }))).toBe(false);
    expect(await allowed(input, request({ context: { app: 'Ledger', path: 'invoices/1' } }))).toBe(false);
    expect(await allowed(input, request({ context: { app: 'ledger', path: 'orders/1' } }))).toBe(false);
    expect(await allowed(input, request({ context: { app: 'ledger', path: 'invoices/1', x: 'y' } }))).toBe(
      false,
    );
    expect(await allowed(input, request({}))).toBe(false);
    const anyOf = policy({
      Effect: 'Allow',
      Principal: '*',
      Action: 'kms:Encrypt',
      Resource: '*',
      Condition: {
        'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'app' },
        StringNotEquals: { 'kms:EncryptionContext:env': 'prod' },
      },
    });
    expect(await allowed(anyOf, request({ context: { app: 'x' } }))).toBe(true);
    expect(await allowed(anyOf, request({ context: { app: 'x', env: 'prod' } }))).toBe(false);
    expect(await allowed(anyOf, request({ context: { other: 'x' } }))).toBe(false);
  });

  it('translates aws:SourceIp onto the CIDR conditions', async () => {
    const input = policy({
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:*',
      Resource: '*',
      Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } },
    });
    const document = await translate(input);
    expect(document.statements[0]!.conditions).toEqual({ notSourceIp: ['10.0.0.0/8'] });
    const withAllow = (doc: typeof document) => [
      { ref: { policyId: 'kp', version: 1 }, document: doc },
      {
        ref: { policyId: 'role', version: 1 },
        document: parsePolicyDocument({
          statements: [{ effect: 'allow', principals: ['*'], actions: ['*'], resources: ['*'] }],
        }),
      },
    ];
    expect(evaluatePolicies(withAllow(document), request({ sourceIp: '127.0.0.1' })).allowed).toBe(false);
    expect(evaluatePolicies(withAllow(document), request({ sourceIp: '10.1.2.3' })).allowed).toBe(true);
    const inside = await translate(
      policy({
        Effect: 'Allow',
        Principal: '*',
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } },
      }),
    );
    expect(inside.statements[0]!.conditions).toEqual({ sourceIp: ['192.0.2.0/24'] });
    expect(
      await refusal(
        policy({
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:*',
          Resource: '*',
          Condition: { IpAddress: { 'aws:SourceIp': 'not-an-ip' } },
        }),
      ),
    ).toMatch(/not an IP address/);
  });

  it('restricts to the caller account with kms:CallerAccount; kms:ViaService never matches here', async () => {
    const document = await translate(
      policy(
        {
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } },
        },
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEquals: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } },
        },
      ),
    );
    expect(document.statements).toEqual([
      { effect: 'allow', principals: ['tenant:t1'], actions: ENCRYPT_ACTIONS, resources: ['*'] },
    ]);
  });

  it('refuses what Keyhaven cannot honour exactly, naming it', async () => {
    const cases: [unknown, RegExp][] = [
      [
        policy({ Effect: 'Deny', NotPrincipal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' }),
        /NotPrincipal/,
      ],
      [policy({ Effect: 'Deny', Principal: '*', NotAction: 'kms:Decrypt', Resource: '*' }), /NotAction/],
      [policy({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', NotResource: '*' }), /NotResource/],
      [policy({ Principal: '*', Action: 'kms:Decrypt', Resource: '*' }), /Effect/],
      [policy({ Effect: 'allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }), /Effect/],
      [
        policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Frobnicate', Resource: '*' }),
        /kms:Frobnicate/,
      ],
      [policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }), /s3:GetObject/],
      [
        policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${OTHER}:root` },
          Action: 'kms:*',
          Resource: '*',
        }),
        new RegExp(`account ${OTHER}`),
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: { Service: 'ec2.amazonaws.com' },
          Action: 'kms:Decrypt',
          Resource: '*',
        }),
        /Service/,
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:sts::${ACCOUNT}:assumed-role/r/s` },
          Action: 'kms:Decrypt',
          Resource: '*',
        }),
        /assumed-role/,
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'true' } },
        }),
        /aws:SecureTransport/,
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEqualsIgnoreCase: { 'kms:EncryptionContext:a': 'b' } },
        }),
        /StringEqualsIgnoreCase/,
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEqualsIfExists: { 'kms:EncryptionContext:a': 'b' } },
        }),
        /StringEqualsIfExists/,
      ],
      [
        policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: 'arn:aws:kms:us-east-1:111122223333:key/other',
        }),
        /not this key/,
      ],
      [policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt' }), /Resource/],
      [{ Version: '2012-10-17', Statement: [{ ...ROOT, Action: 'kms:Describe*' }] }, /kms:\*/],
      [
        {
          Version: '2012-10-17',
          Statement: [{ ...ROOT, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }],
        },
        /kms:\*/,
      ],
      [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }],
        },
        /Enable IAM User Permissions/,
      ],
      [{ Version: '2013-01-01', Statement: [ROOT] }, /Version/],
      [{ Version: '2012-10-17', Statement: [] }, /Statement/],
      [{ Version: '2012-10-17', Statement: [ROOT], Extra: 1 }, /Extra/],
    ];
    for (const [input, message] of cases) expect(await refusal(input)).toMatch(message);
    expect(() => parseAwsPolicyText('{"Version": ')).toThrow(/not valid JSON/);
  });

  it('matches StringLike patterns linearly', () => {
    expect(globMatches('a*b?c', 'axxxbyc')).toBe(true);
    expect(globMatches('a*b?c', 'axxxbc')).toBe(false);
    expect(globMatches('*', '')).toBe(true);
    expect(globMatches(`${'*a'.repeat(500)}b`, 'a'.repeat(5000))).toBe(false);
  });
});

describe('the AWS permission table', () => {
  it('names only Keyhaven actions that exist, and covers every action the dialect knows', () => {
    const known = new Set<string>([
      ...LIFECYCLE_ACTIONS,
      ...CRYPTO_ACTIONS,
      ...READ_ACTIONS,
      ...IDENTITY_READ_ACTIONS,
      ...IDENTITY_ACTIONS,
      ...GRANT_ACTIONS,
    ]);
    const named = new Set(
      Object.values(AWS_PERMISSIONS).flatMap((p) =>
        p.keyhaven === null ? [] : [p.keyhaven, ...(p.also ?? [])],
      ),
    );
    expect([...named].filter((action) => !known.has(action))).toEqual([]);
    // Every action on a key is some AWS permission's, so that a Deny of kms:* leaves none out (the
    // actions on no key, and the AWS-only grant listing by retiring principal, aside).
    const onNoKey = ['CreateKey', 'ListKeys', 'GenerateRandom', 'ListRetirableGrants'];
    const keyActions = [...LIFECYCLE_ACTIONS, ...CRYPTO_ACTIONS, ...READ_ACTIONS, ...GRANT_ACTIONS].filter(
      (action) => !onNoKey.includes(action),
    );
    expect(keyActions.filter((action) => !named.has(action))).toEqual([]);
    const served = Object.keys(AWS_ACTIONS).filter((name) => !(name in AWS_PERMISSIONS));
    // ReEncrypt is two permissions (ReEncryptFrom, ReEncryptTo); every other served action is one.
    expect(served).toEqual(['ReEncrypt']);
  });
});

describe('encryption-context conditions against ambiguous and costly input', () => {
  const statement = (effect: 'allow' | 'deny', negated: boolean) =>
    parsePolicyDocument({
      statements: [
        {
          effect,
          principals: ['*'],
          actions: ['Encrypt'],
          resources: ['*'],
          conditions: {
            contextValues: [{ key: 'dept', values: ['A'], ...(negated ? { negated: true } : {}) }],
          },
        },
      ],
    });
  const allowAll = parsePolicyDocument({
    statements: [{ effect: 'allow', principals: ['*'], actions: ['Encrypt'], resources: ['*'] }],
  });
  const decide = (documents: ReturnType<typeof parsePolicyDocument>[], context: Record<string, string>) =>
    evaluatePolicies(
      documents.map((document, i) => ({ ref: { policyId: `p${i}`, version: 1 }, document })),
      request({ context }),
    ).allowed;

  it('a key given in two cases takes a Deny and never an Allow', () => {
    // Deny unless dept is A: {dept: B, DEPT: A} must not pass as A.
    expect(decide([allowAll, statement('deny', true)], { dept: 'B', DEPT: 'A' })).toBe(false);
    expect(decide([allowAll, statement('deny', true)], { DEPT: 'A' })).toBe(true);
    // Allow only dept A: the ambiguous context is not allowed either.
    expect(decide([statement('allow', false)], { dept: 'A', Dept: 'B' })).toBe(false);
    expect(decide([statement('allow', false)], { Dept: 'A' })).toBe(true);
  });

  it('bounds the like-patterns of one document', () => {
    const like = (length: number) => ({
      statements: [
        {
          effect: 'deny',
          principals: ['*'],
          actions: ['Encrypt'],
          resources: ['*'],
          conditions: { contextValues: [{ key: 'a', like: true, values: [`*${'a'.repeat(length)}b`] }] },
        },
      ],
    });
    expect(() => parsePolicyDocument(like(1000))).not.toThrow();
    expect(() => parsePolicyDocument(like(2000))).toThrow(/like-patterns .* at most 1024/);
  });
});
