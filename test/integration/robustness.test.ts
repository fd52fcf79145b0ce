// Robustness of the REST surface over real HTTP: malformed and hostile input always gets a 4xx in
// API.md's error model (never a 500), authentication is enforced, request ids are carried, no error
// echoes plaintext, and every single-bit change to a ciphertext is detected.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  b64,
  expectClientError,
  expectError,
  mapConcurrent,
  unb64,
  type Api,
  type ApiResponse,
} from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import {
  isBatchError,
  type BatchReply,
  type DecryptReply,
  type EncryptReply,
  type KeyListReply,
  type KeyView,
} from './wire-types.js';

/** A plaintext we can recognise in any response or log line it should never reach. */
const MARKER = `TOP-SECRET-PLAINTEXT-${randomUUID()}`;

const flipBit = (buffer: Buffer, bit: number) => {
  const copy = Buffer.from(buffer);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
};

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

describe.each(keyStoreProfiles)('robustness of the REST API ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;
  let key: KeyView;
  let signer: KeyView;
  let hmac: KeyView;

  beforeAll(async () => {
    suite = await startSuiteServer(profile);
    api = suite.api;
    [key, signer, hmac] = await Promise.all([
      createKey(api),
      createKey(api, { keySpec: 'ECC_NIST_P256' }),
      createKey(api, { keySpec: 'HMAC_256' }),
    ]);
  });
  afterAll(async () => {
    await suite?.server.dispose();
  });

  describe('malformed requests answer a 4xx in the error model, never a 500', () => {
    it.each([
      ['/v1/encrypt', '{"keyId": "x", "plaintext": '],
      ['/v1/encrypt', '{bad json}'],
      ['/v1/keys', "{'keySpec': 'RSA_2048'}"],
      ['/v1/decrypt', '{"ciphertext": "AAAA",}'],
    ])('malformed JSON to %s answers 400 ValidationError', async (path, raw) => {
      expectError(await api.request('POST', path, { raw }), 400, 'ValidationError');
    });

    it.each([
      ['an empty body', ''],
      ['null', 'null'],
      ['an array', '[]'],
      ['a string', '"plaintext"'],
      ['a number', '42'],
    ])('%s where a JSON object belongs answers 400 ValidationError', async (_what, raw) => {
      expectError(await api.request('POST', '/v1/encrypt', { raw }), 400, 'ValidationError');
    });

    it('an empty body is no body: POST /v1/keys creates a default key, enable with a JSON type works', async () => {
      const created = await api.request('POST', '/v1/keys', { raw: '' });
      expect(created.status).toBe(201);
      const { keyId, keySpec } = (created.body as { key: { keyId: string; keySpec: string } }).key;
      expect(keySpec).toBe('SYMMETRIC_DEFAULT');
      const enabled = await api.request('POST', `/v1/keys/${keyId}/enable`, {
        raw: '',
        headers: { 'content-type': 'application/json' },
      });
      expect(enabled.status, enabled.text).toBe(200);
      expect((enabled.body as { key: { state: string } }).key.state).toBe('Enabled');
    });

    it('a body that is not JSON answers 415 ValidationError', async () => {
      const response = await api.request('POST', '/v1/encrypt', {
        raw: 'plaintext=hello',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expectError(response, 415, 'ValidationError');
    });

    it('a body over 1 MiB answers 413 PayloadTooLarge', async () => {
      const raw = JSON.stringify({ keyId: key.keyId, plaintext: b64(randomBytes(1024 * 1024)) });
      expectError(await api.request('POST', '/v1/encrypt', { raw }), 413, 'PayloadTooLarge');
    });

    const wrongTypes: [string, string, (ids: { key: string; signer: string }) => unknown][] = [
      ['plaintext as a number', '/v1/encrypt', (k) => ({ keyId: k.key, plaintext: 42 })],
      ['keyId as a number', '/v1/encrypt', () => ({ keyId: 42, plaintext: 'aGk=' })],
      ['context as an array', '/v1/encrypt', (k) => ({ keyId: k.key, plaintext: 'aGk=', context: ['a'] })],
      [
        'a context value as a number',
        '/v1/encrypt',
        (k) => ({ keyId: k.key, plaintext: 'aGk=', context: { a: 1 } }),
      ],
      ['length as a string', '/v1/derive', (k) => ({ keyId: k.key, context: 'c', length: '32' })],
      ['length as a fraction', '/v1/derive', (k) => ({ keyId: k.key, context: 'c', length: 32.5 })],
      ['withoutPlaintext as a string', '/v1/datakey', (k) => ({ keyId: k.key, withoutPlaintext: 'yes' })],
      ['tags as a string', '/v1/keys', () => ({ tags: 'team:core' })],
      ['a tag value as a number', '/v1/keys', () => ({ tags: { team: 1 } })],
      ['rotationPeriodDays as a string', '/v1/keys', () => ({ rotationPeriodDays: '365' })],
      ['algorithm as a number', '/v1/sign', (k) => ({ keyId: k.signer, message: 'aGk=', algorithm: 7 })],
      [
        'messageType unknown',
        '/v1/sign',
        (k) => ({ keyId: k.signer, message: 'aGk=', algorithm: 'ECDSA_SHA_256', messageType: 'HASH' }),
      ],
      ['items as an object', '/v1/encrypt/batch', () => ({ items: {} })],
      ['an item as a string', '/v1/decrypt/batch', () => ({ items: ['AAAA'] })],
    ];
    it.each(wrongTypes)('%s (%s) answers 400 ValidationError', async (_what, path, body) => {
      expectError(
        await api.post(path, body({ key: key.keyId, signer: signer.keyId })),
        400,
        'ValidationError',
      );
    });

    const missingFields: [string, (ids: { key: string; signer: string }) => unknown][] = [
      ['/v1/encrypt', (k) => ({ keyId: k.key })],
      ['/v1/encrypt', () => ({ plaintext: 'aGk=' })],
      ['/v1/decrypt', () => ({})],
      ['/v1/reencrypt', () => ({ ciphertext: 'AAAA' })],
      ['/v1/datakey', () => ({})],
      ['/v1/datakey-pair', (k) => ({ keyId: k.key })],
      ['/v1/sign', (k) => ({ keyId: k.signer, message: 'aGk=' })],
      ['/v1/verify', (k) => ({ keyId: k.signer, message: 'aGk=', algorithm: 'ECDSA_SHA_256' })],
      ['/v1/mac', (k) => ({ keyId: k.key, message: 'aGk=' })],
      ['/v1/mac/verify', (k) => ({ keyId: k.key, message: 'aGk=', algorithm: 'HMAC_SHA_256' })],
      ['/v1/asymmetric/encrypt', (k) => ({ keyId: k.key, plaintext: 'aGk=' })],
      ['/v1/wrap', (k) => ({ keyId: k.key })],
      ['/v1/unwrap', (k) => ({ keyId: k.key })],
      ['/v1/derive', (k) => ({ keyId: k.key, length: 32 })],
      ['/v1/encrypt/batch', () => ({})],
    ];
    it.each(missingFields)(
      'a missing required field on %s answers 400 ValidationError',
      async (path, body) => {
        expectError(
          await api.post(path, body({ key: key.keyId, signer: signer.keyId })),
          400,
          'ValidationError',
        );
      },
    );

    it('unknown body fields answer 400 ValidationError (create, patch, encrypt, decrypt, alias)', async () => {
      const attempts = [
        api.post('/v1/keys', { keySpec: 'SYMMETRIC_DEFAULT', colour: 'blue' }),
        api.patch(`/v1/keys/${key.keyId}`, { state: 'Disabled' }),
        api.post('/v1/encrypt', {
          keyId: key.keyId,
          plaintext: 'aGk=',
          encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }),
        api.post('/v1/decrypt', { ciphertext: 'AAAA', grantTokens: [] }),
        api.put(`/v1/aliases/extra-${randomUUID()}`, { keyId: key.keyId, targetKeyId: key.keyId }),
      ];
      for (const response of await Promise.all(attempts)) expectError(response, 400, 'ValidationError');
      expect((await api.ok<{ key: KeyView }>('GET', `/v1/keys/${key.keyId}`)).key.state).toBe('Enabled');
    });

    it('unknown query parameters answer 400 ValidationError', async () => {
      expectError(await api.get('/v1/keys?colour=blue'), 400, 'ValidationError');
      expectError(await api.get('/v1/random?bytes=8&seed=1'), 400, 'ValidationError');
    });

    it.each([
      ['with a character outside the alphabet', 'not base64!'],
      ['without padding', 'aGVsbG8'],
      ['in the URL-safe alphabet', 'aGV-bG8_'],
      ['with a line break', 'aGVs\nbG8='],
      ['with surrounding spaces', ' aGk= '],
      ['with padding in the middle', 'aG==aGk='],
    ])(
      'base64 %s answers 400 ValidationError (plaintext, ciphertext, message, signature)',
      async (_what, value) => {
        const attempts = [
          api.post('/v1/encrypt', { keyId: key.keyId, plaintext: value }),
          api.post('/v1/decrypt', { ciphertext: value }),
          api.post('/v1/sign', { keyId: signer.keyId, message: value, algorithm: 'ECDSA_SHA_256' }),
          api.post('/v1/verify', {
            keyId: signer.keyId,
            message: 'aGk=',
            signature: value,
            algorithm: 'ECDSA_SHA_256',
          }),
        ];
        for (const response of await Promise.all(attempts)) expectError(response, 400, 'ValidationError');
      },
    );

    it('an unknown route answers 404 NotFound in the error model (401 without a credential)', async () => {
      expectError(await api.get('/v1/no-such-thing'), 404, 'NotFound');
      expectError(await api.post('/v1/keys/x/y/z'), 404, 'NotFound');
      expectError(await api.get('/no-such-thing'), 404, 'NotFound');
      expectError(await api.get('/no-such-thing', { token: null }), 401, 'Unauthenticated');
    });

    it('a malformed percent-encoding in the path answers 400 in the error model', async () => {
      expectError(await api.get('/v1/keys/%E0%A4%A'), 400, 'ValidationError');
    });

    it('a key reference longer than any valid one answers 4xx in the error model', async () => {
      expectClientError(await api.get(`/v1/keys/alias%2F${'a'.repeat(3000)}`));
      expectClientError(
        await api.post('/v1/encrypt', { keyId: `alias/${'a'.repeat(3000)}`, plaintext: 'aGk=' }),
      );
    });
  });

  describe('unknown keys', () => {
    const missing = randomUUID();
    it.each([
      ['GET', `/v1/keys/${missing}`, undefined],
      ['PATCH', `/v1/keys/${missing}`, { description: 'x' }],
      ['POST', `/v1/keys/${missing}/enable`, undefined],
      ['POST', `/v1/keys/${missing}/disable`, undefined],
      ['POST', `/v1/keys/${missing}/rotate`, undefined],
      ['POST', `/v1/keys/${missing}/cancel-deletion`, undefined],
      ['DELETE', `/v1/keys/${missing}?pendingWindowDays=7`, undefined],
      ['GET', `/v1/keys/${missing}/versions`, undefined],
      ['GET', `/v1/keys/${missing}/public-key`, undefined],
      ['GET', `/v1/keys/${missing}/usage`, undefined],
      ['GET', `/v1/keys/import-parameters?keyId=${missing}`, undefined],
      ['POST', '/v1/encrypt', { keyId: missing, plaintext: 'aGk=' }],
      ['POST', '/v1/datakey', { keyId: missing }],
      ['POST', '/v1/sign', { keyId: missing, message: 'aGk=', algorithm: 'ECDSA_SHA_256' }],
      ['POST', '/v1/mac', { keyId: missing, message: 'aGk=', algorithm: 'HMAC_SHA_256' }],
      ['POST', '/v1/wrap', { keyId: missing, keyMaterial: 'aGk=' }],
      ['POST', '/v1/derive', { keyId: missing, context: 'c', length: 16 }],
      ['PUT', `/v1/aliases/to-missing-${missing}`, { keyId: missing }],
    ])('%s %s with a random key id answers 404 NotFound', async (method, path, json) => {
      expectError(await api.request(method, path, { json }), 404, 'NotFound');
    });

    it('a ciphertext naming a key that does not exist answers 400 InvalidCiphertext (a forged header reveals nothing)', async () => {
      const { ciphertext } = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: 'aGk=',
      });
      const forged = unb64(ciphertext);
      Buffer.from(missing.replaceAll('-', ''), 'hex').copy(forged, 1);
      expectError(await api.post('/v1/decrypt', { ciphertext: b64(forged) }), 400, 'InvalidCiphertext');
    });
  });

  describe('authentication', () => {
    /** Authorization headers to try, given the server's real admin token. */
    const badCredentials: [string, (token: string) => Record<string, string>][] = [
      ['no Authorization header', () => ({})],
      ['an unknown bearer token', () => ({ authorization: `Bearer khk_${randomBytes(24).toString('hex')}` })],
      ['a Basic credential', () => ({ authorization: `Basic ${b64('admin:admin')}` })],
      ['a bearer token too short to be one', () => ({ authorization: 'Bearer short' })],
      ['an empty bearer token', () => ({ authorization: 'Bearer ' })],
      ['the admin token in another scheme', (token) => ({ authorization: `Token ${token}` })],
      ['the admin token with a suffix', (token) => ({ authorization: `Bearer ${token}x` })],
    ];

    it.each(badCredentials)(
      '%s answers 401 Unauthenticated on every /v1 route',
      async (_what, credentials) => {
        const authorization = credentials(api.token);
        const attempts: Promise<ApiResponse>[] = [
          api.get('/v1/keys', { token: null, headers: authorization }),
          api.post(
            '/v1/encrypt',
            { keyId: key.keyId, plaintext: 'aGk=' },
            { token: null, headers: authorization },
          ),
          // Authentication comes before validation: an invalid body still gets 401.
          api.request('POST', '/v1/decrypt', { raw: '{bad', token: null, headers: authorization }),
          api.get('/v1/random?bytes=8', { token: null, headers: authorization }),
          api.get('/v1/no-such-route', { token: null, headers: authorization }),
        ];
        for (const response of await Promise.all(attempts)) expectError(response, 401, 'Unauthenticated');
      },
    );

    it('takes the bearer scheme in any case (RFC 9110), never the token', async () => {
      for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
        const response = await api.get('/v1/keys?limit=1', {
          token: null,
          headers: { authorization: `${scheme} ${api.token}` },
        });
        expect(response.status, scheme).toBe(200);
      }
      const swapped = api.token.replace(/[a-z]/, (c) => c.toUpperCase());
      if (swapped !== api.token) {
        expectError(
          await api.get('/v1/keys', { token: null, headers: { authorization: `Bearer ${swapped}` } }),
          401,
          'Unauthenticated',
        );
      }
    });

    it('a refused request has no effect (no key is created without credentials)', async () => {
      const alias = `alias/unauthenticated-${randomUUID()}`;
      expectError(await api.post('/v1/keys', { alias }, { token: null }), 401, 'Unauthenticated');
      const listed = await api.ok<KeyListReply>('GET', `/v1/keys?alias=${encodeURIComponent(alias)}`);
      expect(listed.keys).toEqual([]);
    });

    it('the public operational endpoints need no token', async () => {
      for (const path of ['/health', '/ready', '/openapi.json', '/docs']) {
        expect((await api.get(path, { token: null })).status).toBe(200);
      }
    });
  });

  describe('request ids', () => {
    it('every response carries an x-request-id, and each request gets its own', async () => {
      const responses = await Promise.all([
        api.get('/v1/keys'),
        api.get('/v1/keys'),
        api.get(`/v1/keys/${randomUUID()}`),
        api.get('/v1/keys', { token: null }),
        api.request('POST', '/v1/encrypt', { raw: '{bad' }),
        api.request('POST', '/v1/encrypt', {
          raw: JSON.stringify({ plaintext: b64(randomBytes(1100 * 1024)) }),
        }),
        api.get('/v1/nothing-here'),
        api.get('/health', { token: null }),
        api.get('/metrics'),
        api.get('/openapi.json', { token: null }),
      ]);
      const ids = responses.map((r) => r.headers.get('x-request-id'));
      for (const [index, id] of ids.entries())
        expect(id, `response ${index}`).toMatch(/^[A-Za-z0-9._-]{8,128}$/);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('a given x-request-id is echoed in the header and in error bodies', async () => {
      const id = `it-${randomUUID()}`;
      const ok = await api.get('/v1/keys', { headers: { 'x-request-id': id } });
      expect(ok.headers.get('x-request-id')).toBe(id);
      const notFound = await api.get(`/v1/keys/${randomUUID()}`, { headers: { 'x-request-id': `${id}.2` } });
      expect(expectError(notFound, 404, 'NotFound').requestId).toBe(`${id}.2`);
      const unauthenticated = await api.get('/v1/keys', {
        token: null,
        headers: { 'x-request-id': `${id}.3` },
      });
      expect(expectError(unauthenticated, 401, 'Unauthenticated').requestId).toBe(`${id}.3`);
    });

    it('an x-request-id that is not a safe token is replaced by a generated one', async () => {
      for (const offered of ['has spaces in it', 'x'.repeat(200), 'quote"inside', '']) {
        const response = await api.get('/v1/keys', { headers: { 'x-request-id': offered } });
        expect(response.headers.get('x-request-id')).not.toBe(offered);
        expect(response.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._-]{8,128}$/);
      }
    });
  });

  describe('no error echoes plaintext', () => {
    const secret = Buffer.from(MARKER);
    const secretB64 = b64(secret);
    const expectNoSecret = (response: ApiResponse) => {
      expect(response.text).not.toContain(MARKER);
      expect(response.text).not.toContain(secretB64);
    };

    it('failing encrypt, batch, wrap, mac, sign and RSA requests never contain the plaintext sent', async () => {
      const disabled = await createKey(api);
      await api.ok('POST', `/v1/keys/${disabled.keyId}/disable`);
      const rsa = await createKey(api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
      // One byte over the 4096-byte limit, so the service (not the schema) refuses it.
      const oversize = b64(Buffer.concat(Array.from({ length: 100 }, () => secret)).subarray(0, 4097));
      const attempts = [
        api.post('/v1/encrypt', { keyId: randomUUID(), plaintext: secretB64 }),
        api.post('/v1/encrypt', { keyId: disabled.keyId, plaintext: secretB64 }),
        api.post('/v1/encrypt', { keyId: hmac.keyId, plaintext: secretB64 }),
        api.post('/v1/encrypt', { keyId: key.keyId, plaintext: oversize }),
        api.post('/v1/encrypt', { keyId: key.keyId, plaintext: secretB64, context: { n: 1 } }),
        api.post('/v1/encrypt', { keyId: key.keyId, plaintext: `${secretB64}!` }),
        api.post('/v1/encrypt', { keyId: key.keyId, plaintext: MARKER }),
        api.post('/v1/wrap', { keyId: hmac.keyId, keyMaterial: secretB64 }),
        api.post('/v1/mac', { keyId: hmac.keyId, message: secretB64, algorithm: 'HMAC_SHA_512' }),
        api.post('/v1/sign', { keyId: signer.keyId, message: secretB64, algorithm: 'ECDSA_SHA_512' }),
        api.post('/v1/asymmetric/encrypt', {
          keyId: rsa.keyId,
          plaintext: b64(Buffer.concat([secret, randomBytes(200)])),
          algorithm: 'RSAES_OAEP_SHA_256',
        }),
        api.request('POST', '/v1/encrypt', { raw: `{"keyId":"${key.keyId}","plaintext":"${secretB64}"` }),
        api.request('POST', '/v1/encrypt', { raw: `{"keyId":"${key.keyId}","plaintext":"${MARKER}"}` }),
      ];
      for (const response of await Promise.all(attempts)) {
        expectClientError(response);
        expectNoSecret(response);
      }
      // A batch answers 200 with per-item errors; those must not carry the plaintext either.
      const batch = await api.post<BatchReply<EncryptReply>>('/v1/encrypt/batch', {
        items: [
          { keyId: disabled.keyId, plaintext: secretB64 },
          { keyId: hmac.keyId, plaintext: secretB64 },
          { keyId: key.keyId, plaintext: oversize },
        ],
      });
      expect(batch.body.results.every(isBatchError)).toBe(true);
      expectNoSecret(batch);
    });

    it('failing decrypt, re-encrypt and RSA decrypt of a ciphertext of the plaintext never contain it', async () => {
      const other = await createKey(api);
      const sealed = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: secretB64,
        context: { c: '1' },
      });
      const attempts = [
        api.post('/v1/decrypt', { ciphertext: sealed.ciphertext }),
        api.post('/v1/decrypt', { ciphertext: sealed.ciphertext, context: { c: '2' } }),
        api.post('/v1/decrypt', { ciphertext: sealed.ciphertext, context: { c: '1' }, keyId: other.keyId }),
        api.post('/v1/decrypt/batch', { items: [{ ciphertext: sealed.ciphertext }] }),
        api.post('/v1/reencrypt', {
          ciphertext: sealed.ciphertext,
          context: { c: '1' },
          destinationKeyId: hmac.keyId,
        }),
        api.post('/v1/reencrypt', {
          ciphertext: sealed.ciphertext,
          context: { c: '1' },
          destinationKeyId: randomUUID(),
        }),
      ];
      for (const response of await Promise.all(attempts)) expectNoSecret(response);
      expect((await attempts[3]!).status).toBe(200);
    });
  });

  describe('tamper detection', () => {
    const context = { purpose: 'tamper-test' };

    async function expectEveryBitFlipRefused(plaintext: Buffer) {
      const { ciphertext } = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64(plaintext),
        context,
      });
      const blob = unb64(ciphertext);
      const variants = Array.from({ length: blob.length * 8 }, (_, bit) => b64(flipBit(blob, bit)));
      const codes: string[] = [];
      for (const batch of chunks(variants, 100)) {
        const { results } = await api.ok<BatchReply<DecryptReply>>('POST', '/v1/decrypt/batch', {
          items: batch.map((c) => ({ ciphertext: c, context })),
        });
        codes.push(
          ...results.map((r) =>
            isBatchError(r) ? r.error.code : `decrypted:${(r as DecryptReply).plaintext}`,
          ),
        );
      }
      const refused = codes.filter((c) => c === 'InvalidCiphertext').length;
      expect({ bits: codes.length, refused, others: [...new Set(codes)] }).toEqual({
        bits: blob.length * 8,
        refused: blob.length * 8,
        others: ['InvalidCiphertext'],
      });
      // The control: the untouched ciphertext still opens.
      const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext, context });
      expect(unb64(opened.plaintext)).toEqual(plaintext);
      return blob;
    }

    it('flipping any single bit of a 1-byte-plaintext ciphertext (header, IV, body, tag) fails with InvalidCiphertext', async () => {
      const blob = await expectEveryBitFlipRefused(Buffer.from('k'));
      expect(blob.length).toBe(34 + 1 + 16);
    });

    it('flipping any single bit of a 48-byte-plaintext ciphertext fails with InvalidCiphertext', async () => {
      await expectEveryBitFlipRefused(randomBytes(48));
    });

    it('single-bit flips through /v1/decrypt (not batch) answer 400 InvalidCiphertext for every bit', async () => {
      const { ciphertext } = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('z'),
        context,
      });
      const blob = unb64(ciphertext);
      const responses = await mapConcurrent(
        Array.from({ length: blob.length * 8 }, (_, bit) => bit),
        16,
        (bit) => api.post('/v1/decrypt', { ciphertext: b64(flipBit(blob, bit)), context }),
      );
      const outcomes = responses.map(
        (r) => `${r.status} ${(r.body as { error?: { code?: string } })?.error?.code}`,
      );
      expect(new Set(outcomes)).toEqual(new Set(['400 InvalidCiphertext']));
      for (const response of responses.slice(0, 8)) expectError(response, 400, 'InvalidCiphertext');
    });

    it('every truncation and an extension of a ciphertext fail with InvalidCiphertext', async () => {
      const { ciphertext } = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('truncate me'),
        context,
      });
      const blob = unb64(ciphertext);
      const variants = [
        ...Array.from({ length: blob.length - 1 }, (_, n) => blob.subarray(0, n + 1)),
        Buffer.concat([blob, Buffer.from([0])]),
        Buffer.concat([blob, blob]),
      ];
      for (const batch of chunks(variants, 100)) {
        const { results } = await api.ok<BatchReply<DecryptReply>>('POST', '/v1/decrypt/batch', {
          items: batch.map((c) => ({ ciphertext: b64(c), context })),
        });
        expect(new Set(results.map((r) => (isBatchError(r) ? r.error.code : 'decrypted')))).toEqual(
          new Set(['InvalidCiphertext']),
        );
      }
    });

    it('a changed context value, key or an added pair fails with InvalidCiphertext', async () => {
      const { ciphertext } = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('ctx'),
        context,
      });
      for (const changed of [
        { purpose: 'tamper-tesT' },
        { Purpose: 'tamper-test' },
        { ...context, extra: '' },
        {},
      ]) {
        expectError(
          await api.post('/v1/decrypt', { ciphertext, context: changed }),
          400,
          'InvalidCiphertext',
        );
      }
    });
  });

  it('answered no request of this file with a 5xx, and never logged the plaintext marker', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
    expect(suite.server.output()).not.toContain(MARKER);
  });
});
