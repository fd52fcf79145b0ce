// Which addresses count as loopback, and when a plaintext listener is refused (src/listen-policy.ts).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { checkListenSecurity, isLoopbackHost } from '../../src/listen-policy.js';

describe('isLoopbackHost', () => {
  it.each([
    '127.0.0.1',
    '127.0.0.2',
    '127.255.255.254',
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'LOCALHOST',
  ])('%s is loopback', (host) => expect(isLoopbackHost(host)).toBe(true));

  it.each([
    '0.0.0.0',
    '::',
    '128.0.0.1',
    '10.0.0.1',
    '::ffff:10.0.0.1',
    'fe80::1',
    'localhost.example.com',
    'keyhaven',
  ])('%s is not loopback', (host) => expect(isLoopbackHost(host)).toBe(false));
});

describe('checkListenSecurity', () => {
  const server = (env: Record<string, string>) => loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x', ...env }).server;

  it('lets plaintext listen on loopback, and anything listen with TLS', () => {
    expect(checkListenSecurity(server({}))).toBe('loopback');
    expect(
      checkListenSecurity(
        server({ KEYHAVEN_HOST: '0.0.0.0', KEYHAVEN_TLS_CERT: 'c.pem', KEYHAVEN_TLS_KEY: 'k.pem' }),
      ),
    ).toBe('tls');
  });

  it('refuses plaintext off loopback, naming what to set, unless allowInsecure', () => {
    expect(() => checkListenSecurity(server({ KEYHAVEN_HOST: '::' }))).toThrow(
      /refusing to listen on :: without TLS[\s\S]*KEYHAVEN_ALLOW_INSECURE=1/,
    );
    expect(checkListenSecurity(server({ KEYHAVEN_HOST: '::', KEYHAVEN_ALLOW_INSECURE: '1' }))).toBe(
      'insecure',
    );
  });
});
