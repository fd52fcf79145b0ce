// TLS and mutual TLS against real server processes (DESIGN.md "Security boundaries"): certificates
// made by the openssl CLI, the SDK and the CLI over https, refused client certificates, plaintext
// to a TLS port, and the start-up rules (no plaintext off loopback unless allowed; bad TLS files).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyhavenClient, KeyhavenError } from '../../src/client/index.js';
import { runCli } from '../cli/run-cli.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startExpectingFailure, startServer, type TestServer } from '../helpers/server.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';

let certs: TestCertificates;

beforeAll(() => {
  certs = createTestCertificates();
});
afterAll(() => {
  certs?.dispose();
});

/** A start expected to fail, on a data directory of its own (never the default ~/.keyhaven). */
const failedStart = (env: Record<string, string>) =>
  startExpectingFailure({ KEYHAVEN_DATA_DIR: join(certs.dir, 'data'), ...env });

async function failure(promise: Promise<unknown>): Promise<KeyhavenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyhavenError);
  return error as KeyhavenError;
}

describe('mutual TLS (server.tls with a client CA)', () => {
  let server: TestServer;
  const trusted = () => ({
    ca: certs.read(certs.caCert),
    cert: certs.read(certs.clientCert),
    key: certs.read(certs.clientKey),
  });

  beforeAll(async () => {
    server = await startServer({
      env: {
        KEYHAVEN_TLS_CERT: certs.serverCert,
        KEYHAVEN_TLS_KEY: certs.serverKey,
        KEYHAVEN_TLS_CLIENT_CA: certs.caCert,
      },
      https: trusted(),
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('serves the SDK over https with a client certificate: create a key, encrypt, decrypt', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new KeyhavenClient({ endpoint: server.url, token: server.token, ...trusted() });
    const key = await client.createKey({ description: 'over mutual TLS' });
    const plaintext = Buffer.from('secret over TLS');
    const { ciphertext } = await client.encrypt({ keyId: key.keyId, plaintext, context: { via: 'tls' } });
    const decrypted = await client.decrypt({ ciphertext, context: { via: 'tls' } });
    expect(decrypted.plaintext).toEqual(plaintext);
    expect(decrypted.keyId).toBe(key.keyId);
  });

  it('serves the CLI with --ca, --cert and --key (and their variables): keys create, encrypt, decrypt', async () => {
    const base = { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token };
    const created = await runCli(
      [
        '--ca',
        certs.caCert,
        '--cert',
        certs.clientCert,
        '--key',
        certs.clientKey,
        '--json',
        'keys',
        'create',
      ],
      { env: base },
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const keyId = (JSON.parse(created.out) as { key: { keyId: string } }).key.keyId;

    const viaEnv = {
      ...base,
      KEYHAVEN_CA_CERT: certs.caCert,
      KEYHAVEN_CLIENT_CERT: certs.clientCert,
      KEYHAVEN_CLIENT_KEY: certs.clientKey,
    };
    const plaintext = Buffer.from('piped through the CLI over mutual TLS\n');
    const sealed = await runCli(['encrypt', '--key-id', keyId], { env: viaEnv, input: plaintext });
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout.includes(plaintext)).toBe(false);
    const opened = await runCli(['decrypt'], { env: viaEnv, input: sealed.stdout });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toEqual(plaintext);
  });

  it('refuses a client certificate from another CA', async () => {
    const client = new KeyhavenClient({
      endpoint: server.url,
      token: server.token,
      ca: certs.read(certs.caCert),
      cert: certs.read(certs.otherClientCert),
      key: certs.read(certs.otherClientKey),
    });
    const error = await failure(client.listKeys());
    expect(error.code).toBe('Unavailable');
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/ECONNRESET.*may not accept the client certificate/);
  });

  it('refuses a client without a certificate, saying that one is required', async () => {
    const client = new KeyhavenClient({
      endpoint: server.url,
      token: server.token,
      ca: certs.read(certs.caCert),
    });
    const error = await failure(client.health());
    expect(error.code).toBe('Unavailable');
    expect(error.message).toMatch(
      /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: the server requires a client certificate/,
    );
    // OpenSSL's error stack (source file names, line numbers) is left out of the message.
    expect(error.message).not.toMatch(/rec_layer|\.c:\d+/);

    const cli = await runCli(['--ca', certs.caCert, 'keys', 'list'], {
      env: { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token },
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^error: Unavailable: .*CERTIFICATE_REQUIRED/);
  });

  it('answers no plaintext HTTP on the TLS port', async () => {
    const { port } = new URL(server.url);
    const status = await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', target: '/health' }).then(
      (response) => response.status,
      () => undefined,
    );
    // Either the connection fails or whatever comes back is no success.
    if (status !== undefined) expect(status >= 200 && status < 300).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

describe('TLS without a client CA', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({
      env: { KEYHAVEN_TLS_CERT: certs.serverCert, KEYHAVEN_TLS_KEY: certs.serverKey },
      https: { ca: certs.read(certs.caCert) },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('serves a client that trusts the CA and presents no certificate', async () => {
    const client = new KeyhavenClient({
      endpoint: server.url,
      token: server.token,
      ca: certs.read(certs.caCert),
    });
    const key = await client.createKey();
    expect((await client.getKey(key.keyId)).keyId).toBe(key.keyId);
  });

  it('refuses, as Unavailable, a server certificate from a CA the client does not trust', async () => {
    const withOtherCa = new KeyhavenClient({
      endpoint: server.url,
      token: server.token,
      ca: certs.read(certs.otherCaCert),
    });
    const error = await failure(withOtherCa.health());
    expect(error.code).toBe('Unavailable');
    expect(error.message).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    expect(error.message).toMatch(/not from a trusted CA/);
    // Without ca: the system's CAs, which do not include the test CA either.
    const withSystemCas = new KeyhavenClient({ endpoint: server.url, token: server.token });
    expect((await failure(withSystemCas.health())).code).toBe('Unavailable');
  });
});

describe('listening without TLS', () => {
  it('refuses to start on a non-loopback address, saying what to set, before creating anything', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'keyhaven-insecure-')), 'data');
    try {
      const { code, output } = await startExpectingFailure({
        KEYHAVEN_HOST: '0.0.0.0',
        KEYHAVEN_DATA_DIR: dataDir,
      });
      expect(code).toBe(2);
      expect(output).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
      expect(output).toMatch(/server\.allowInsecure: true \(KEYHAVEN_ALLOW_INSECURE=1\)/);
      expect(output).toMatch(/KEYHAVEN_TLS_CERT, KEYHAVEN_TLS_KEY/);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  it('starts on a non-loopback address with KEYHAVEN_ALLOW_INSECURE=1, warning at every start', async () => {
    const server = await startServer({ env: { KEYHAVEN_HOST: '0.0.0.0', KEYHAVEN_ALLOW_INSECURE: '1' } });
    try {
      const warning = /WARNING: listening on 0\.0\.0\.0 WITHOUT TLS \(server\.allowInsecure is set\)/;
      expect(server.output()).toMatch(warning);
      expect((await new KeyhavenClient({ endpoint: server.url, token: server.token }).health()).ok).toBe(
        true,
      );
      await server.restart();
      expect(server.output()).toMatch(warning);
    } finally {
      await server.dispose();
    }
  });

  it('starts on loopback without TLS and without a warning', async () => {
    const server = await startServer();
    try {
      expect(server.output()).not.toMatch(/WITHOUT TLS/);
    } finally {
      await server.dispose();
    }
  });
});

describe('TLS files at start-up', () => {
  it('a certificate without its key is a configuration error', async () => {
    const { code, output } = await failedStart({ KEYHAVEN_TLS_CERT: certs.serverCert });
    expect(code).toBe(2);
    expect(output).toMatch(/invalid configuration[\s\S]*server\.tls\.key: server\.tls\.cert needs its key/);
  });

  it('an unreadable file stops the server naming the setting and the path', async () => {
    const missing = join(certs.dir, 'missing.crt');
    const { code, output } = await failedStart({
      KEYHAVEN_TLS_CERT: missing,
      KEYHAVEN_TLS_KEY: certs.serverKey,
    });
    expect(code).toBe(2);
    expect(output).toContain(`server.tls.cert (KEYHAVEN_TLS_CERT): cannot read ${missing} (ENOENT)`);
  });

  it('a file of the wrong kind stops the server without printing any of its content', async () => {
    const key = certs.read(certs.serverKey).toString();
    const { code, output } = await failedStart({
      // The private key where the certificate belongs.
      KEYHAVEN_TLS_CERT: certs.serverKey,
      KEYHAVEN_TLS_KEY: certs.serverKey,
    });
    expect(code).toBe(2);
    expect(output).toContain(`${certs.serverKey} holds no PEM certificate`);
    expect(output).not.toContain('BEGIN');
    const body = key.split('\n')[1]!;
    expect(body.length).toBeGreaterThan(20);
    expect(output).not.toContain(body);
  });

  it("a key that is not the certificate's stops the server", async () => {
    const { code, output } = await failedStart({
      KEYHAVEN_TLS_CERT: certs.serverCert,
      KEYHAVEN_TLS_KEY: certs.clientKey,
    });
    expect(code).toBe(2);
    expect(output).toContain(
      `${certs.clientKey} is not the private key of the certificate in ${certs.serverCert}`,
    );
  });
});
