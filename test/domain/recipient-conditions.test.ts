// The policies' recipient conditions (recipientBound, recipientAttestation) and their AWS spellings
// (Bool keyhaven:RecipientBound, kms:RecipientAttestation:ImageSha384 / PCR<n>), evaluated on
// requests with no recipient, a public-key recipient and attested ones; and the CBOR decoder's
// refusals.
import { describe, expect, it } from 'vitest';
import { translateAwsPolicy, type AwsPolicyScope } from '../../src/domain/aws-policy.js';
import { decodeCbor } from '../../src/domain/cbor.js';
import { KmsError } from '../../src/domain/errors.js';
import {
  evaluatePolicies,
  parsePolicyDocument,
  type AccessRequest,
  type PolicyDocument,
} from '../../src/domain/policy.js';
import { pcrIndexOf, type RecipientFacts } from '../../src/domain/recipient.js';
import { cbor, type CborIn } from '../helpers/nitro-attestation.js';

const IMAGE = 'ab'.repeat(48);
const PCR8 = 'cd'.repeat(48);
const ATTESTED: RecipientFacts = { attested: true, pcrs: { 0: IMAGE, 8: PCR8 } };
const PUBLIC_KEY: RecipientFacts = { attested: false };

const request = (recipient?: RecipientFacts): AccessRequest => ({
  principal: { id: 'p-1', tenant: 't1', roles: [], attributes: {} },
  action: 'Decrypt',
  key: { keyId: 'k1', aliases: [], tags: {} },
  sourceIp: '10.0.0.1',
  at: new Date(),
  ...(recipient ? { recipient } : {}),
});

const allows = (document: PolicyDocument, recipient?: RecipientFacts) =>
  evaluatePolicies([{ ref: { policyId: 'p', version: 1 }, document }], request(recipient)).allowed;

const allowIf = (conditions: unknown) =>
  parsePolicyDocument({
    statements: [{ effect: 'allow', principals: ['*'], actions: ['Decrypt'], resources: ['*'], conditions }],
  });

function refused(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError);
    expect((error as KmsError).code).toBe('ValidationError');
    return (error as KmsError).message;
  }
  throw new Error('accepted');
}

describe('recipientBound', () => {
  it('true holds for any recipient, false only without one', () => {
    const bound = allowIf({ recipientBound: true });
    expect([allows(bound), allows(bound, PUBLIC_KEY), allows(bound, ATTESTED)]).toEqual([false, true, true]);
    const unbound = allowIf({ recipientBound: false });
    expect([allows(unbound), allows(unbound, PUBLIC_KEY), allows(unbound, ATTESTED)]).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('takes only true or false', () => {
    expect(refused(() => allowIf({ recipientBound: 'yes' }))).toContain('recipientBound');
  });
});

describe('recipientAttestation', () => {
  it('holds only for an attested recipient whose every named PCR has one of the values, ignoring case', () => {
    const image = allowIf({
      recipientAttestation: { ImageSha384: [IMAGE.toUpperCase()], PCR8: ['00'.repeat(48), PCR8] },
    });
    expect(allows(image)).toBe(false);
    expect(allows(image, PUBLIC_KEY)).toBe(false);
    expect(allows(image, ATTESTED)).toBe(true);
    expect(allows(image, { attested: true, pcrs: { 0: IMAGE } })).toBe(false);
    expect(allows(image, { attested: true, pcrs: { 0: 'ee'.repeat(48), 8: PCR8 } })).toBe(false);
    // PCR0 and ImageSha384 are the same register.
    expect(allows(allowIf({ recipientAttestation: { PCR0: [IMAGE] } }), ATTESTED)).toBe(true);
  });

  it('refuses names other than ImageSha384 and PCR0..PCR31, and values that are not hex digests', () => {
    for (const bad of [
      { PCR32: [IMAGE] },
      { PCR08: [IMAGE] },
      { Image: [IMAGE] },
      { PCR1: ['xyz'] },
      { PCR1: ['ab'] },
      {},
    ]) {
      refused(() => allowIf({ recipientAttestation: bad }));
    }
    expect([
      pcrIndexOf('imagesha384'),
      pcrIndexOf('PCR31'),
      pcrIndexOf('PCR32'),
      pcrIndexOf('PCR01'),
    ]).toEqual([0, 31, undefined, undefined]);
  });
});

describe('in AWS policies', () => {
  const scope: AwsPolicyScope = {
    keyTenant: 't1',
    accounts: new Map([['111122223333', 't1']]),
    keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k1',
    findPrincipal: async () => undefined,
  };
  const ROOT = {
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::111122223333:root' },
    Action: 'kms:*',
    Resource: '*',
  };
  const translate = (Condition: unknown, Effect = 'Allow') =>
    translateAwsPolicy(
      {
        Version: '2012-10-17',
        Statement: [
          ROOT,
          { Sid: 's', Effect, Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition },
        ],
      },
      scope,
    );

  it('translates the attestation keys and keyhaven:RecipientBound', async () => {
    const document = await translate({
      StringEqualsIgnoreCase: {
        'kms:RecipientAttestation:ImageSha384': IMAGE,
        'kms:RecipientAttestation:PCR8': [PCR8.toUpperCase()],
      },
      Bool: { 'keyhaven:RecipientBound': 'true' },
    });
    expect(document.statements.find((s) => s.sid === 's')!.conditions).toEqual({
      recipientAttestation: { ImageSha384: [IMAGE], PCR8: [PCR8] },
      recipientBound: true,
    });
    const deny = await translate({ Bool: { 'keyhaven:RecipientBound': 'false' } }, 'Deny');
    const denied = (recipient?: RecipientFacts) =>
      evaluatePolicies([{ ref: { policyId: 'p', version: 1 }, document: deny }], request(recipient)).decidedBy
        ?.sid;
    expect(denied()).toBe('s');
    expect(denied(PUBLIC_KEY)).not.toBe('s');
  });

  it('refuses other operators, unknown PCRs and other Bool values as MalformedPolicyDocument', async () => {
    for (const condition of [
      { StringLike: { 'kms:RecipientAttestation:ImageSha384': IMAGE } },
      { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR99': IMAGE } },
      { Bool: { 'keyhaven:RecipientBound': 'maybe' } },
      { StringEquals: { 'keyhaven:RecipientBound': 'true' } },
    ]) {
      const error = await translate(condition).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'ValidationError', validation: 'MalformedPolicyDocument' });
    }
  });
});

describe('decodeCbor', () => {
  it('reads the types a document holds', () => {
    const map = decodeCbor(
      cbor(
        new Map<CborIn, CborIn>([
          [1, 'a'],
          ['b', Buffer.from('x')],
          ['c', [1, -2, null]],
        ]),
      ),
    );
    expect(map).toEqual(
      new Map<unknown, unknown>([
        [1, 'a'],
        ['b', Buffer.from('x')],
        ['c', [1, -2, null]],
      ]),
    );
    expect(decodeCbor(Buffer.from('1bffffffffffffffff', 'hex'))).toBe(0xffffffffffffffffn);
    expect(decodeCbor(Buffer.from('3903e7', 'hex'))).toBe(-1000);
    expect(decodeCbor(Buffer.from('f6', 'hex'))).toBeNull();
    expect(decodeCbor(Buffer.from('d24101', 'hex'))).toEqual({ tag: 18, value: Buffer.from([1]) });
  });

  it('refuses trailing bytes, repeated map keys, invalid UTF-8, floats and truncation', () => {
    for (const hex of ['0101', 'a2616101616102', '62c328', 'f93c00', '5a00000010', '']) {
      refused(() => decodeCbor(Buffer.from(hex, 'hex')));
    }
  });
});
