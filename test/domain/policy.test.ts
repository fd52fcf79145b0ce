import { describe, expect, it } from 'vitest';
import {
  actionMatches,
  evaluatePolicies,
  inTimeWindow,
  parsePolicyDocument,
  type AccessRequest,
  type PolicyDocument,
} from '../../src/domain/policy.js';

const KEY = {
  keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  aliases: ['alias/payments'],
  tags: { team: 'pay' },
};

const request = (overrides: Partial<AccessRequest> = {}): AccessRequest => ({
  principal: { id: 'p-1', tenant: 'acme', roles: ['crypto-user'], attributes: { dept: 'finance' } },
  action: 'Encrypt',
  key: KEY,
  context: { purpose: 'invoice' },
  sourceIp: '10.1.2.3',
  at: new Date('2026-12-02T10:30:00Z'), // a Wednesday, 11:30 in Paris
  ...overrides,
});

const allowAll = (conditions?: object, sid = 'allow'): unknown => ({
  statements: [
    {
      sid,
      effect: 'allow',
      principals: ['*'],
      actions: ['*'],
      resources: ['*'],
      ...(conditions ? { conditions } : {}),
    },
  ],
});

const decide = (document: unknown, req: AccessRequest = request()) =>
  evaluatePolicies(
    [{ ref: { policyId: 'pol-1', version: 3 }, document: parsePolicyDocument(document) }],
    req,
  );

describe('policy documents', () => {
  it('accept every documented statement form', () => {
    const document = parsePolicyDocument({
      statements: [
        {
          sid: 's1',
          effect: 'allow',
          principals: ['principal:p-1', 'role:crypto-user', 'tenant:acme', '*'],
          actions: ['Encrypt', 'kms:Decrypt', 'Generate*', '*'],
          resources: ['key:1b4e28ba-2fa1-11d2-883f-0016d3cca427', 'alias/payments', 'tag:team=pay', '*'],
          conditions: {
            sourceIp: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'],
            timeWindow: { days: ['Mon', 'Fri'], start: '08:00', end: '18:30', timeZone: 'Europe/Paris' },
            context: { purpose: '*' },
            keyTags: { team: 'pay' },
            principalAttributes: { dept: 'finance' },
          },
        },
      ],
    });
    expect(document.statements[0]!.conditions!.timeWindow!.timeZone).toBe('Europe/Paris');
  });

  it.each([
    [{}, /statements/],
    [{ statements: [] }, /statements/],
    [{ statements: [{ effect: 'permit', principals: ['*'], actions: ['*'], resources: ['*'] }] }, /effect/],
    [
      { statements: [{ effect: 'allow', principals: ['user:x'], actions: ['*'], resources: ['*'] }] },
      /principals/,
    ],
    [
      { statements: [{ effect: 'allow', principals: ['*'], actions: ['En crypt'], resources: ['*'] }] },
      /actions/,
    ],
    [
      { statements: [{ effect: 'allow', principals: ['*'], actions: ['*'], resources: ['arn:x'] }] },
      /resources/,
    ],
    [{ statements: [{ effect: 'allow', principals: [], actions: ['*'], resources: ['*'] }] }, /principals/],
    [
      { statements: [{ effect: 'allow', principals: ['*'], actions: ['*'], resources: ['*'], extra: 1 }] },
      /unknown field "extra"/,
    ],
    [allowAll({ sourceIp: ['10.0.0.0/33'] }), /sourceIp/],
    [allowAll({ sourceIp: ['not-an-ip'] }), /sourceIp/],
    [allowAll({ timeWindow: { start: '8:00', end: '18:00', timeZone: 'UTC' } }), /start/],
    [allowAll({ timeWindow: { start: '08:00', end: '24:00', timeZone: 'UTC' } }), /end/],
    [allowAll({ timeWindow: { start: '08:00', end: '18:00', timeZone: 'Mars/Olympus' } }), /timeZone/],
    [allowAll({ timeWindow: { days: ['Monday'], start: '08:00', end: '18:00', timeZone: 'UTC' } }), /days/],
    [allowAll({ context: { purpose: 7 } }), /context/],
    [allowAll({ weather: 'sunny' }), /unknown field "weather"/],
  ])('refuse a malformed document with a ValidationError naming the problem (%#)', (document, message) => {
    expect(() => parsePolicyDocument(document)).toThrow(message);
    try {
      parsePolicyDocument(document);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ValidationError');
    }
  });
});

describe('policy evaluation', () => {
  it('denies by default, naming no statement', () => {
    const decision = evaluatePolicies([], request());
    expect(decision).toEqual({ allowed: false, decidedBy: null, reason: 'no statement allows this request' });
  });

  it('allows by a matching statement and names it: policy, version, sid', () => {
    expect(decide(allowAll())).toEqual({
      allowed: true,
      decidedBy: { policyId: 'pol-1', version: 3, sid: 'allow' },
      reason: 'allowed by policy pol-1 v3 statement allow',
    });
  });

  it('lets an explicit deny override any allow, in whichever order they come', () => {
    const deny = {
      sid: 'no-decrypt',
      effect: 'deny',
      principals: ['*'],
      actions: ['Decrypt'],
      resources: ['*'],
    };
    const allow = { sid: 'all', effect: 'allow', principals: ['*'], actions: ['*'], resources: ['*'] };
    for (const statements of [
      [allow, deny],
      [deny, allow],
    ]) {
      const decision = decide({ statements }, request({ action: 'Decrypt' }));
      expect(decision.allowed).toBe(false);
      expect(decision.decidedBy?.sid).toBe('no-decrypt');
      expect(decide({ statements }, request({ action: 'Encrypt' })).allowed).toBe(true);
    }
    // Across policies too: a deny in a second policy beats an allow in the first.
    const decision = evaluatePolicies(
      [
        { ref: { policyId: 'a', version: 1 }, document: parsePolicyDocument({ statements: [allow] }) },
        { ref: { policyId: 'b', version: 2 }, document: parsePolicyDocument({ statements: [deny] }) },
      ],
      request({ action: 'Decrypt' }),
    );
    expect(decision.decidedBy).toEqual({ policyId: 'b', version: 2, sid: 'no-decrypt' });
  });

  it('matches principals by id, role, tenant or *', () => {
    const only = (principal: string) => ({
      statements: [{ effect: 'allow', principals: [principal], actions: ['*'], resources: ['*'] }],
    });
    expect(decide(only('principal:p-1')).allowed).toBe(true);
    expect(decide(only('principal:p-2')).allowed).toBe(false);
    expect(decide(only('role:crypto-user')).allowed).toBe(true);
    expect(decide(only('role:admin')).allowed).toBe(false);
    expect(decide(only('tenant:acme')).allowed).toBe(true);
    expect(decide(only('tenant:globex')).allowed).toBe(false);
  });

  it('matches actions case-insensitively, with or without kms:, and with * wildcards', () => {
    expect(actionMatches('encrypt', 'Encrypt')).toBe(true);
    expect(actionMatches('kms:Encrypt', 'Encrypt')).toBe(true);
    expect(actionMatches('Encrypt', 'kms:Encrypt')).toBe(true);
    expect(actionMatches('Generate*', 'GenerateDataKeyPair')).toBe(true);
    expect(actionMatches('Generate*', 'Encrypt')).toBe(false);
    expect(actionMatches('*Key', 'CreateKey')).toBe(true);
    expect(actionMatches('*Key', 'CreateKeys')).toBe(false);
    expect(actionMatches('Gen*Data*Pair', 'GenerateDataKeyPair')).toBe(true);
    expect(actionMatches('Gen*Data*Pair', 'GenerateDataKey')).toBe(false);
    expect(actionMatches('Encrypt', 'EncryptBatch')).toBe(false);
    expect(actionMatches('Encrypt*', 'Encrypt')).toBe(true);
  });

  it('matches the key by id, alias or tag; actions on no key only under *', () => {
    const on = (resource: string) => ({
      statements: [{ effect: 'allow', principals: ['*'], actions: ['*'], resources: [resource] }],
    });
    expect(decide(on(`key:${KEY.keyId}`)).allowed).toBe(true);
    expect(decide(on('key:00000000-0000-4000-8000-000000000000')).allowed).toBe(false);
    expect(decide(on('alias/payments')).allowed).toBe(true);
    expect(decide(on('alias/other')).allowed).toBe(false);
    expect(decide(on('tag:team=pay')).allowed).toBe(true);
    expect(decide(on('tag:team=ops')).allowed).toBe(false);
    expect(decide(on('tag:owner=pay')).allowed).toBe(false);
    const noKey = request({ action: 'CreateKey', key: undefined });
    expect(decide(on(`key:${KEY.keyId}`), noKey).allowed).toBe(false);
    expect(decide(on('*'), noKey).allowed).toBe(true);
  });

  it('holds sourceIp inside its CIDR blocks only (IPv4, IPv6, single addresses)', () => {
    const cidrs = { sourceIp: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] };
    expect(decide(allowAll(cidrs), request({ sourceIp: '10.255.0.1' })).allowed).toBe(true);
    expect(decide(allowAll(cidrs), request({ sourceIp: '11.0.0.1' })).allowed).toBe(false);
    expect(decide(allowAll(cidrs), request({ sourceIp: '2001:db8:1::5' })).allowed).toBe(true);
    expect(decide(allowAll(cidrs), request({ sourceIp: '2001:db9::5' })).allowed).toBe(false);
    expect(decide(allowAll(cidrs), request({ sourceIp: '192.0.2.7' })).allowed).toBe(true);
    expect(decide(allowAll(cidrs), request({ sourceIp: '192.0.2.8' })).allowed).toBe(false);
    expect(decide(allowAll(cidrs), request({ sourceIp: '' })).allowed).toBe(false);
    // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses.
    expect(decide(allowAll(cidrs), request({ sourceIp: '::ffff:10.1.2.3' })).allowed).toBe(true);
    expect(decide(allowAll(cidrs), request({ sourceIp: '::ffff:11.1.2.3' })).allowed).toBe(false);
  });

  it('holds a time window in its own time zone, on its days, including over midnight', () => {
    const paris = { start: '08:00', end: '18:00', timeZone: 'Europe/Paris' };
    // 2026-12-02 is a Wednesday; Paris is UTC+1 in December.
    expect(inTimeWindow(new Date('2026-12-02T07:00:00Z'), paris)).toBe(true); // 08:00 Paris
    expect(inTimeWindow(new Date('2026-12-02T06:59:00Z'), paris)).toBe(false); // 07:59
    expect(inTimeWindow(new Date('2026-12-02T17:00:00Z'), paris)).toBe(false); // 18:00, end excluded
    expect(inTimeWindow(new Date('2026-12-02T10:00:00Z'), { ...paris, days: ['Wed'] })).toBe(true);
    expect(inTimeWindow(new Date('2026-12-02T10:00:00Z'), { ...paris, days: ['Mon', 'Tue'] })).toBe(false);
    // The same instant is Thursday 00:30 in Tokyo... and Wednesday 15:30 UTC.
    expect(inTimeWindow(new Date('2026-12-02T15:30:00Z'), { ...paris, timeZone: 'Asia/Tokyo' })).toBe(false);
    expect(inTimeWindow(new Date('2026-12-02T15:30:00Z'), { ...paris, timeZone: 'UTC' })).toBe(true);
    // Over midnight: 22:00-06:00 UTC on Fridays covers Saturday 03:00, not Friday 03:00.
    const night = { start: '22:00', end: '06:00', timeZone: 'UTC', days: ['Fri' as const] };
    expect(inTimeWindow(new Date('2026-12-04T23:00:00Z'), night)).toBe(true); // Fri 23:00
    expect(inTimeWindow(new Date('2026-12-05T03:00:00Z'), night)).toBe(true); // Sat 03:00
    expect(inTimeWindow(new Date('2026-12-04T03:00:00Z'), night)).toBe(false); // Fri 03:00 (Thursday's night)
    expect(inTimeWindow(new Date('2026-12-05T12:00:00Z'), night)).toBe(false);
    // Through a policy: outside the window, the allow does not apply.
    expect(
      decide(allowAll({ timeWindow: paris }), request({ at: new Date('2026-12-02T20:00:00Z') })).allowed,
    ).toBe(false);
    expect(decide(allowAll({ timeWindow: paris })).allowed).toBe(true);
  });

  it('holds context, key tag and principal attribute conditions exactly, context values also as *', () => {
    expect(decide(allowAll({ context: { purpose: 'invoice' } })).allowed).toBe(true);
    expect(decide(allowAll({ context: { purpose: 'refund' } })).allowed).toBe(false);
    expect(decide(allowAll({ context: { purpose: '*' } })).allowed).toBe(true);
    expect(decide(allowAll({ context: { tenant: '*' } })).allowed).toBe(false);
    expect(decide(allowAll({ context: { purpose: '*' } }), request({ context: undefined })).allowed).toBe(
      false,
    );
    expect(decide(allowAll({ keyTags: { team: 'pay' } })).allowed).toBe(true);
    expect(decide(allowAll({ keyTags: { team: '*' } })).allowed).toBe(false); // no wildcard for tags
    expect(decide(allowAll({ keyTags: { team: 'pay' } }), request({ key: undefined })).allowed).toBe(false);
    expect(decide(allowAll({ principalAttributes: { dept: 'finance' } })).allowed).toBe(true);
    expect(decide(allowAll({ principalAttributes: { dept: 'sales' } })).allowed).toBe(false);
    // Inherited properties are not pairs: a condition on "constructor" or "toString" never holds.
    expect(decide(allowAll({ principalAttributes: { toString: '*' } })).allowed).toBe(false);
  });

  it('requires every condition of a statement to hold', () => {
    const both = { sourceIp: ['10.0.0.0/8'], context: { purpose: 'invoice' } };
    expect(decide(allowAll(both)).allowed).toBe(true);
    expect(decide(allowAll(both), request({ sourceIp: '192.0.2.1' })).allowed).toBe(false);
    expect(decide(allowAll(both), request({ context: { purpose: 'x' } })).allowed).toBe(false);
  });

  it('a deny with unmet conditions does not deny', () => {
    const document: PolicyDocument = parsePolicyDocument({
      statements: [
        { effect: 'allow', principals: ['*'], actions: ['*'], resources: ['*'] },
        {
          sid: 'outside',
          effect: 'deny',
          principals: ['*'],
          actions: ['*'],
          resources: ['*'],
          conditions: { sourceIp: ['192.0.2.0/24'] },
        },
      ],
    });
    const evaluate = (sourceIp: string) =>
      evaluatePolicies([{ ref: { policyId: 'p', version: 1 }, document }], request({ sourceIp })).allowed;
    expect(evaluate('10.1.2.3')).toBe(true);
    expect(evaluate('192.0.2.9')).toBe(false);
  });
});
