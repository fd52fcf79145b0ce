// The EXTERNAL backend over in-process stand-in providers (real AES-256-GCM under a key of their
// own; the real processes are test/integration/external-keys.test.ts): a provider that hangs, one
// that answers with the wrong key, and the data key's copies.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExternalKeyBackend } from '../../../src/adapters/keystore/external/external-key-backend.js';
import { decodeSealed, encodeSealed } from '../../../src/adapters/keystore/external/external-sealed-form.js';
import { ProviderError } from '../../../src/integration/errors.js';
import { KmsIntegrationService } from '../../../src/integration/kms-integration-service.js';
import type { Bytes, CallContext, KmsProvider } from '../../../src/integration/provider.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import { MaterialCache } from '../../../src/adapters/keystore/software/material-cache.js';
import { SoftwareRootKeyStore } from '../../../src/adapters/keystore/software/software-root-key-store.js';
import { encodeRecord, recordOf } from '../../../src/adapters/keystore/external/external-references.js';

/** A stand-in provider: AES-256-GCM under its own key; `mode` makes it hang or lie. */
class StandInProvider implements KmsProvider {
  readonly kind = 'stand-in';
  mode: 'ok' | 'hang' | 'wrong-key' = 'ok';
  encrypts = 0;
  /** The data keys it was given, as it saw them when its call ended. */
  seen: Buffer[] = [];
  private readonly key = randomBytes(32);

  async encrypt(_keyRef: string, plaintext: Bytes, context: CallContext) {
    this.encrypts++;
    const given = Buffer.from(plaintext);
    if (this.mode === 'hang') await hang(context.signal);
    this.seen.push(Buffer.from(plaintext));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(given), cipher.final()]);
    return { ciphertext: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  async decrypt(_keyRef: string, ciphertext: Bytes, context: CallContext) {
    if (this.mode === 'hang') await hang(context.signal);
    if (this.mode === 'wrong-key') return { plaintext: randomBytes(32) };
    const blob = Buffer.from(ciphertext);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, blob.subarray(0, 12));
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      return { plaintext: Buffer.concat([decipher.update(blob.subarray(12, -16)), decipher.final()]) };
    } catch {
      throw new ProviderError('InvalidCiphertext', 'not ours');
    }
  }

  generateDataKey(): never {
    throw new Error('unused');
  }
  sign(): never {
    throw new Error('unused');
  }
  verify(): never {
    throw new Error('unused');
  }
  keyInfo(): never {
    throw new Error('unused');
  }
  async generateKey() {
    return {
      keyRef: randomBytes(8).toString('hex'),
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      state: 'Enabled',
    };
  }
  async health() {}
}

const hang = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(new ProviderError('Timeout', 'hung')), { once: true }),
  );

async function setup(graceMs?: number, timeout = 2000) {
  const a = new StandInProvider();
  const b = new StandInProvider();
  const service = new KmsIntegrationService({
    providers: {
      a: { provider: a, timeout, retries: 0, failureThreshold: 100 },
      b: { provider: b, timeout, retries: 0, failureThreshold: 100 },
    },
  });
  const root = new SoftwareRootKeyStore(randomBytes(32));
  const cache = new MaterialCache(100, 60_000);
  const backend = new ExternalKeyBackend(
    service,
    ['a', 'b'],
    root,
    cache,
    graceMs === undefined ? {} : { wrapGraceMs: graceMs },
  );
  const created = await backend.createVersionMaterial(
    '4f1a2b3c-0000-4000-8000-000000000001',
    1,
    'SYMMETRIC_DEFAULT',
  );
  const ref: VersionRef = {
    keyId: '4f1a2b3c-0000-4000-8000-000000000001',
    keySpec: 'SYMMETRIC_DEFAULT',
    version: {
      keyId: '4f1a2b3c-0000-4000-8000-000000000001',
      version: 1,
      state: 'Enabled',
      createdAt: new Date(),
      ...created,
    },
  };
  return { a, b, backend, ref, cache };
}

const nonce = () => randomBytes(12);
const aad = Buffer.from('header and context');

describe('ExternalKeyBackend over in-process stand-in providers', () => {
  it('seals under both providers and opens with the first; another aad fails as InvalidCiphertext', async () => {
    const { backend, ref } = await setup();
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('hello'), aad);
    expect(decodeSealed(sealed).wrappings.map((w) => w.reference)).toEqual([0, 1]);
    expect((await backend.sealing.open(ref, iv, sealed, aad)).toString()).toBe('hello');
    await expect(backend.sealing.open(ref, iv, sealed, Buffer.from('other'))).rejects.toMatchObject({
      code: 'InvalidCiphertext',
    });
  });

  it('a hung provider holds a seal up for the grace period only, and is left out of that message', async () => {
    const { a, b, backend, ref } = await setup(50, 5000);
    b.mode = 'hang';
    const sealed = await backend.sealing.seal(ref, nonce(), Buffer.from('x'), aad);
    // Not held to the provider's 5 s timeout: its call is still pending when the seal is done.
    expect(b.encrypts).toBe(1);
    expect(b.seen).toHaveLength(0);
    expect(decodeSealed(sealed).wrappings.map((w) => w.reference)).toEqual([0]);
    expect(a.encrypts).toBe(1);
  });

  it('gives each provider its own copy of the data key, so zeroizing it on return wraps no zeros', async () => {
    const { a, b, backend, ref } = await setup(0, 300);
    b.mode = 'hang';
    await backend.sealing.seal(ref, nonce(), Buffer.from('x'), aad);
    expect(a.seen).toHaveLength(1);
    expect(a.seen[0]!.equals(Buffer.alloc(32))).toBe(false);
  });

  it('a provider that answers with the wrong data key is passed over for the next one', async () => {
    const { a, backend, ref } = await setup();
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('kept'), aad);
    a.mode = 'wrong-key';
    expect((await backend.sealing.open(ref, iv, sealed, aad)).toString()).toBe('kept');
  });

  it('when every provider lies, InvalidCiphertext; when one hangs and the other lies, Unavailable', async () => {
    const { a, b, backend, ref } = await setup(undefined, 200);
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('kept'), aad);
    a.mode = 'wrong-key';
    b.mode = 'wrong-key';
    await expect(backend.sealing.open(ref, iv, sealed, aad)).rejects.toMatchObject({
      code: 'InvalidCiphertext',
    });
    a.mode = 'hang';
    await expect(backend.sealing.open(ref, iv, sealed, aad)).rejects.toMatchObject({ code: 'Unavailable' });
  });

  it('no provider alone opens a message: its data key is mixed with the version secret the root key holds', async () => {
    const { a, backend, ref } = await setup();
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('secret'), aad);
    // Provider a saw the data key; AES-GCM under it alone does not open the payload.
    const message = decodeSealed(sealed);
    const prefixLength = sealed.length - message.ciphertext.length - 16;
    const decipher = createDecipheriv('aes-256-gcm', a.seen[0]!, iv);
    decipher.setAAD(Buffer.concat([aad, sealed.subarray(0, prefixLength)]));
    decipher.setAuthTag(message.tag);
    expect(() => Buffer.concat([decipher.update(message.ciphertext), decipher.final()])).toThrow();
  });

  it('refuses a version record whose references were changed in the database, before any provider sees a data key', async () => {
    const { a, b, backend, ref } = await setup();
    const record = recordOf(ref);
    const planted = {
      ...ref,
      version: {
        ...ref.version,
        material: encodeRecord({
          ...record,
          references: [{ provider: 'a', keyRef: 'attacker-key' }, record.references[1]!],
        }),
      },
    };
    await expect(backend.sealing.seal(planted, nonce(), Buffer.from('x'), aad)).rejects.toMatchObject({
      code: 'Internal',
    });
    expect(a.encrypts + b.encrypts).toBe(0);
  });

  it('a forged message with repeated wrappings makes no more provider calls than the version has providers', async () => {
    const { backend, ref } = await setup();
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('x'), aad);
    const message = decodeSealed(sealed);
    const forged = encodeSealed({
      wrappings: Array.from({ length: 200 }, () => ({
        reference: 0,
        ciphertext: message.wrappings[0]!.ciphertext,
      })),
      ciphertext: message.ciphertext,
      tag: message.tag,
    });
    await expect(backend.sealing.open(ref, iv, forged, aad)).rejects.toMatchObject({
      code: 'InvalidCiphertext',
    });
  });

  it('a provider answering a wrapped key the form cannot carry is left out, not a 500', async () => {
    const { a, backend, ref } = await setup();
    a.encrypt = async () => ({ ciphertext: Buffer.alloc(0) });
    const iv = nonce();
    const sealed = await backend.sealing.seal(ref, iv, Buffer.from('ok'), aad);
    expect(decodeSealed(sealed).wrappings.map((w) => w.reference)).toEqual([1]);
    expect((await backend.sealing.open(ref, iv, sealed, aad)).toString()).toBe('ok');
  });

  it('providers that refuse the key (access revoked) answer 409 InvalidState, not 503', async () => {
    const { a, b, backend, ref } = await setup();
    const refuse = async (): Promise<never> => {
      throw new ProviderError('AccessDenied', 'revoked');
    };
    a.encrypt = refuse;
    b.encrypt = refuse;
    await expect(backend.sealing.seal(ref, nonce(), Buffer.from('x'), aad)).rejects.toMatchObject({
      code: 'Conflict',
      conflict: 'InvalidState',
    });
  });
});
