// The runtime store's REST decryptor is recipient-bound by default, against a real Keyhaven server
// process: each value comes back as CMS EnvelopedData for the process's ephemeral key (audited as
// DecryptForRecipient), a key policy that requires recipient binding lets the store (and the CLI)
// decrypt and refuses plain decryption by name, and answers altered in transit (a fetch wrapper around the real
// server) are refused: a plaintext in the clear, an envelope for no key of ours, a 400 for the member.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import {
  createSecretStore,
  encryptText,
  keyhavenKms,
  SecretsError,
  type KeyhavenKmsOptions,
} from '../../packages/secrets/src/index.js';
import { runCli } from '../cli/run-cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, expectSuccess } from '../integration/http.js';
import { createActor, statement, type Actor } from '../integration/identity-fixtures.js';
import { createKey } from '../integration/suite-server.js';
import { DOTENV, DOTENV_VALUES } from './fixtures.js';

let server: TestServer;
let system: Api;
let user: Actor;
let dir: string;

/** The error a promise rejects with. */
async function rejection(work: Promise<unknown>): Promise<SecretsError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'it succeeded').toBeInstanceOf(SecretsError);
  return error as SecretsError;
}

const encryptedCount = Object.values(DOTENV_VALUES).filter((value) => value !== '').length;

/** DOTENV encrypted under a new key (by the bootstrap admin), and that key. */
async function encryptedDotenv(): Promise<{ keyId: string; text: string }> {
  const keyId = (await createKey(system)).keyId;
  const kms = keyhavenKms({ endpoint: server.url, token: server.token });
  return { keyId, text: (await encryptText(DOTENV, 'dotenv', { kms, keyId })).text };
}

async function auditActionsOf(keyId: string): Promise<string[]> {
  const page = await system.get<{ records: AuditRecord[] }>(`/v1/logs?limit=1000&keyId=${keyId}`);
  expectSuccess(page);
  return page.body.records.map((record) => record.action).filter((action) => action.startsWith('Decrypt'));
}

beforeAll(async () => {
  server = await startServer();
  system = new Api(server.url, server.token);
  user = await createActor(system, 'default', ['crypto-user']);
  dir = mkdtempSync(join(tmpdir(), 'keyhaven-sealed-'));
});
afterAll(async () => {
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the store over REST is recipient-bound by default', () => {
  it('decrypts every value as DecryptForRecipient, never as a plain Decrypt', async () => {
    const { keyId, text } = await encryptedDotenv();
    const store = await createSecretStore(
      { text, format: 'dotenv' },
      { keyhaven: { endpoint: server.url, token: server.token } },
    );
    try {
      for (const [name, value] of Object.entries(DOTENV_VALUES)) expect(store.get(name)).toBe(value);
      await store.refresh();
      expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
    } finally {
      store.destroy();
    }
    const actions = await auditActionsOf(keyId);
    expect(actions.filter((action) => action === 'DecryptForRecipient')).toHaveLength(2 * encryptedCount);
    expect(actions.filter((action) => action === 'Decrypt')).toHaveLength(0);

    // The control: recipientBound: false is a plain Decrypt, as audited.
    const plain = await createSecretStore(
      { text, format: 'dotenv' },
      { keyhaven: { endpoint: server.url, token: server.token, recipientBound: false } },
    );
    expect(plain.get('API_TOKEN')).toBe(DOTENV_VALUES.API_TOKEN);
    plain.destroy();
    expect((await auditActionsOf(keyId)).filter((action) => action === 'Decrypt')).toHaveLength(
      encryptedCount,
    );
  });

  it('a key policy requiring recipient binding lets the store start and refuses plain decryption by name', async () => {
    const { keyId, text } = await encryptedDotenv();
    const put = await system.put(`/v1/keys/${keyId}/policy`, {
      document: {
        statements: [
          statement('deny', user.principal.principalId, ['Decrypt'], {
            sid: 'sealed-only',
            conditions: { recipientBound: false },
          }),
        ],
      },
    });
    expectSuccess(put);
    const options = (extra: Partial<KeyhavenKmsOptions> = {}) => ({
      keyhaven: { endpoint: server.url, token: user.api.token, ...extra },
    });

    const store = await createSecretStore({ text, format: 'dotenv' }, options());
    expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
    store.destroy();

    const error = await rejection(
      createSecretStore(
        { text, format: 'dotenv' },
        { ...options({ recipientBound: false }), concurrency: 1 },
      ),
    );
    expect(error).toMatchObject({ code: 'AccessDenied', kmsCode: 'AccessDenied', variable: 'DB_HOST' });
    expect(error.message).toContain('cannot decrypt DB_HOST: AccessDenied');

    // The CLI decrypts recipient-bound too, unless told not to.
    const path = join(dir, 'bound.env');
    writeFileSync(path, text);
    const env = { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: user.api.token };
    const bound = await runCli(['secrets', 'decrypt', path], { env });
    expect(bound.code, bound.stderr).toBe(0);
    expect(bound.out).toBe(DOTENV);
    const plain = await runCli(['secrets', 'decrypt', path, '--no-recipient-bound', '--concurrency', '1'], {
      env,
    });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^error: AccessDenied: cannot decrypt DB_HOST:/);
    expect(plain.out).toBe('');
  });
});

describe('answers altered in transit (a fetch wrapper around the real server) are refused', () => {
  let text: string;
  beforeAll(async () => {
    text = (await encryptedDotenv()).text;
  });

  /** A store whose requests and answers pass through `alter` on their way. */
  const storeThrough = (alter: {
    request?: (body: Record<string, unknown>) => Record<string, unknown>;
    answer?: (body: Record<string, unknown>) => Record<string, unknown>;
  }) =>
    createSecretStore(
      { text, format: 'dotenv' },
      {
        concurrency: 1,
        keyhaven: {
          endpoint: server.url,
          token: server.token,
          fetch: async (url, init) => {
            const sent = JSON.parse(String(init?.body)) as Record<string, unknown>;
            const response = await fetch(url, {
              ...init,
              body: JSON.stringify(alter.request?.(sent) ?? sent),
            });
            if (!response.ok || !alter.answer) return response;
            const body = JSON.stringify(alter.answer((await response.json()) as Record<string, unknown>));
            return new Response(body, { status: response.status, headers: response.headers });
          },
        },
      },
    );

  it('a plaintext in the clear, from a server that drops the recipient member', async () => {
    const error = await rejection(storeThrough({ request: ({ recipient: _dropped, ...rest }) => rest }));
    expect(error).toMatchObject({ code: 'KmsError', variable: 'DB_HOST' });
    expect(error.message).toContain('answered a plaintext to a recipient-bound request');
    expect(error.message).not.toContain(DOTENV_VALUES.DB_HOST);
  });

  it('an envelope for another key (its encrypted content key altered), and one cut short', async () => {
    const flipInKey = (body: Record<string, unknown>) => {
      const envelope = Buffer.from(String(body.ciphertextForRecipient), 'base64');
      // The RSA-encrypted content key is the one 384-byte OCTET STRING (04 82 01 80) for RSA-3072.
      const at = envelope.indexOf(Buffer.from([0x04, 0x82, 0x01, 0x80]));
      expect(at).toBeGreaterThan(0);
      envelope[at + 100]! ^= 0x01;
      return { ...body, ciphertextForRecipient: envelope.toString('base64') };
    };
    const altered = await rejection(storeThrough({ answer: flipInKey }));
    expect(altered).toMatchObject({ code: 'KmsError', variable: 'DB_HOST' });
    expect(altered.message).toContain('no recipient opens with this process key');

    const cut = await rejection(
      storeThrough({
        answer: (body) => ({
          ...body,
          ciphertextForRecipient: String(body.ciphertextForRecipient).slice(0, 400),
        }),
      }),
    );
    expect(cut.message).toContain('ciphertextForRecipient cannot be opened: truncated');
  });

  it('a 400 for the recipient member says what to do', async () => {
    const error = await rejection(
      storeThrough({ request: (body) => ({ ...body, recipient: { publicKey: 'bm90IGEga2V5' } }) }),
    );
    expect(error).toMatchObject({ code: 'KmsError', kmsCode: 'ValidationError', variable: 'DB_HOST' });
    expect(error.message).toContain('set recipientBound: false');
  });
});
