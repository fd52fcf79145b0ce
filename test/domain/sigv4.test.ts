// SigV4 as the server checks it, against the AWS SDK's own signer (@smithy/signature-v4, what
// @aws-sdk/client-kms signs with): every request the SDK signs verifies, and any change to what
// was signed (method, path, query, a signed header, the body, the scope, the secret) does not.
import { createHash } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  SignatureError,
  canonicalRequest,
  checkRequestTime,
  deriveSigningKey,
  parseAmzDate,
  parseAuthorization,
  signatureMatches,
  type SignedRequest,
} from '../../src/domain/sigv4.js';

const SECRET = 'kh-test-secret/with+base64=chars';
const AT = new Date('2026-12-01T10:00:00Z');

interface Unsigned {
  method?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

/** A request signed by the AWS SDK's signer, as the server receives it. */
async function sdkSigned(input: Unsigned = {}, secret = SECRET, region = 'eu-west-3') {
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'KHAKTEST0123456789', secretAccessKey: secret },
    region,
    service: 'kms',
    sha256: Hash.bind(null, 'sha256'),
  });
  const body = input.body ?? '{"KeyId":"alias/app","Plaintext":"aGVsbG8="}';
  const signed = await signer.sign(
    {
      method: input.method ?? 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 8400,
      path: input.path ?? '/',
      query: input.query ?? {},
      headers: {
        host: '127.0.0.1:8400',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.Encrypt',
        ...input.headers,
      },
      body,
    },
    { signingDate: AT },
  );
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  const request: SignedRequest = {
    method: signed.method,
    path: signed.path,
    query,
    rawHeaders: Object.entries(signed.headers).flat(),
    payloadHash: createHash('sha256').update(body).digest('hex'),
  };
  return { request, authorization: signed.headers.authorization!, amzDate: signed.headers['x-amz-date']! };
}

function verifies(request: SignedRequest, authorization: string, amzDate: string, secret = SECRET): boolean {
  const parsed = parseAuthorization(authorization);
  return signatureMatches(request, parsed, amzDate, deriveSigningKey(secret, parsed.scope));
}

describe('SigV4 verification', () => {
  it('accepts what the AWS SDK signs: bodies, queries, paths and headers of every kind', async () => {
    const cases: Unsigned[] = [
      {},
      { body: '' },
      { body: JSON.stringify({ Plaintext: 'ü€𝄞'.repeat(100) }) },
      { headers: { 'x-amz-target': 'TrentService.Decrypt', 'x-custom': '  spaced   out  value ' } },
      { query: { b: '2', a: 'x y', 'c~d': 'ä/+' } },
      { path: '/some/path with space/ü' },
      { method: 'GET', body: '' },
    ];
    for (const input of cases) {
      const { request, authorization, amzDate } = await sdkSigned(input);
      expect(verifies(request, authorization, amzDate), JSON.stringify(input)).toBe(true);
    }
  });

  it('parses the scope, the signed headers and the signature', async () => {
    const { authorization } = await sdkSigned();
    expect(parseAuthorization(authorization)).toEqual({
      accessKeyId: 'KHAKTEST0123456789',
      scope: { date: '20261201', region: 'eu-west-3', service: 'kms' },
      signedHeaders: ['content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-target'],
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('refuses a request changed after signing, in any signed part', async () => {
    const { request, authorization, amzDate } = await sdkSigned();
    const header = (name: string, value: string): SignedRequest => {
      const raw = [...request.rawHeaders];
      raw[raw.findIndex((h, i) => i % 2 === 0 && h === name) + 1] = value;
      return { ...request, rawHeaders: raw };
    };
    const changed: [string, SignedRequest][] = [
      ['method', { ...request, method: 'PUT' }],
      ['path', { ...request, path: '/other' }],
      ['query', { ...request, query: 'a=1' }],
      ['body', { ...request, payloadHash: createHash('sha256').update('{}').digest('hex') }],
      ['target', header('x-amz-target', 'TrentService.ScheduleKeyDeletion')],
      ['host', header('host', 'evil.example:8400')],
    ];
    for (const [what, tampered] of changed) {
      expect(verifies(tampered, authorization, amzDate), what).toBe(false);
    }
    expect(verifies(request, authorization, '20261201T100001Z')).toBe(false);
    expect(verifies(request, authorization, amzDate, `${SECRET}x`)).toBe(false);
    const otherRegion = authorization.replace('/eu-west-3/', '/us-east-1/');
    expect(verifies(request, otherRegion, amzDate)).toBe(false);
    const otherSignature = authorization.replace(/Signature=[0-9a-f]{64}/, `Signature=${'0'.repeat(64)}`);
    expect(verifies(request, otherSignature, amzDate)).toBe(false);
  });

  it('ignores headers that were not signed, and refuses a signed header the request lacks', async () => {
    const { request, authorization, amzDate } = await sdkSigned();
    const extra = { ...request, rawHeaders: [...request.rawHeaders, 'X-Forwarded-For', '10.0.0.1'] };
    expect(verifies(extra, authorization, amzDate)).toBe(true);
    const without = request.rawHeaders.slice();
    without.splice(without.indexOf('x-amz-target'), 2);
    expect(() => verifies({ ...request, rawHeaders: without }, authorization, amzDate)).toThrow(
      /x-amz-target/,
    );
  });

  it('canonicalises repeated headers as AWS does: values trimmed, runs of spaces one, joined by commas', () => {
    const request: SignedRequest = {
      method: 'POST',
      path: '/',
      query: '',
      rawHeaders: ['Host', 'h', 'X-A', '  one   two ', 'x-a', 'three'],
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    expect(canonicalRequest(request, ['host', 'x-a'])).toBe(
      'POST\n/\n\nhost:h\nx-a:one two,three\n\nhost;x-a\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('refuses malformed Authorization headers, each with a reason', () => {
    const good =
      'AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=' +
      'a'.repeat(64);
    expect(parseAuthorization(good).accessKeyId).toBe('AKID');
    const problem = (header: string | undefined) => {
      try {
        parseAuthorization(header);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(SignatureError);
        return (error as SignatureError).problem;
      }
    };
    expect(problem(undefined)).toBe('missing');
    expect(problem('Bearer khk_abc')).toBe('missing');
    expect(problem('AWS4-HMAC-SHA1 Credential=x')).toBe('missing');
    const bad = [
      good.replace(/, Signature=a+/, ''),
      good.replace('Credential=AKID/20261201/us-east-1/kms/aws4_request, ', ''),
      good.replace('SignedHeaders=host;x-amz-date, ', ''),
      good.replace('aws4_request', 'aws5_request'),
      good.replace('/20261201/', '/2026121/'),
      good.replace('host;x-amz-date', 'x-amz-date;host'),
      good.replace('host;x-amz-date', 'host;host'),
      good.replace('host;x-amz-date', 'host;X-Amz-Date'),
      good.replace('a'.repeat(64), 'A'.repeat(64)),
      good.replace('a'.repeat(64), 'a'.repeat(63)),
      `${good}, Extra=1`,
      `${good}, Signature=${'b'.repeat(64)}`,
      `${good}, junk`,
    ];
    for (const header of bad) expect(problem(header), header).toBe('incomplete');
  });

  it('reads X-Amz-Date strictly and bounds the skew both ways', () => {
    expect(parseAmzDate('20261201T100000Z')).toEqual(AT);
    for (const bad of [
      undefined,
      '',
      '2026-12-01T10:00:00Z',
      '20261301T100000Z',
      '20261232T100000Z',
      '20261201T250000Z',
      '20261201T100000',
    ]) {
      expect(parseAmzDate(bad), String(bad)).toBeUndefined();
    }
    const fiveMinutes = 5 * 60_000;
    expect(() => checkRequestTime(new Date(AT.getTime() - fiveMinutes), AT, fiveMinutes)).not.toThrow();
    expect(() => checkRequestTime(new Date(AT.getTime() + fiveMinutes), AT, fiveMinutes)).not.toThrow();
    expect(() => checkRequestTime(new Date(AT.getTime() - fiveMinutes - 1000), AT, fiveMinutes)).toThrow(
      /Signature expired: 20261201T095459Z is now earlier than 20261201T095500Z \(20261201T100000Z - 5 min.\)/,
    );
    expect(() => checkRequestTime(new Date(AT.getTime() + fiveMinutes + 1000), AT, fiveMinutes)).toThrow(
      /Signature not yet current/,
    );
  });

  it('derives the signing key of the AWS reference example', () => {
    // From AWS's SigV4 documentation ("Examples of how to derive a signing key"): secret
    // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', {
      date: '20120215',
      region: 'us-east-1',
      service: 'iam',
    });
    expect(key.toString('hex')).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });
});
