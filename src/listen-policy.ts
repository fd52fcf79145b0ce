// Where the server may listen in plaintext: on loopback only, unless the operator opts in with
// server.allowInsecure (a proxy in front terminates TLS). Bearer tokens, plaintext and key material
// would otherwise cross a network in the clear because of one forgotten setting.
import { ConfigError, type KeyhavenConfig } from './config.js';
import { isLoopbackHost } from './loopback-host.js';

export { isLoopbackHost } from './loopback-host.js';

/** How the listener is protected; 'insecure' is a plaintext listener the operator allowed. */
export type ListenSecurity = 'tls' | 'loopback' | 'insecure';

/** Throws ConfigError (the server exits 2) for plaintext on a non-loopback address not allowed. */
export function checkListenSecurity(server: KeyhavenConfig['server']): ListenSecurity {
  if (server.tls) return 'tls';
  if (isLoopbackHost(server.host)) return 'loopback';
  if (server.allowInsecure) return 'insecure';
  throw new ConfigError(
    [
      `refusing to listen on ${server.host} without TLS. Either`,
      '  - serve TLS: set server.tls.cert and server.tls.key (KEYHAVEN_TLS_CERT, KEYHAVEN_TLS_KEY), or',
      '  - listen on loopback only: KEYHAVEN_HOST=127.0.0.1, or',
      '  - if a proxy in front terminates TLS: set server.allowInsecure: true (KEYHAVEN_ALLOW_INSECURE=1)',
    ].join('\n'),
  );
}
