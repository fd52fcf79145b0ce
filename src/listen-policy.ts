// Where the server may listen in plaintext: on loopback only, unless the operator opts in with
// server.allowInsecure (a proxy in front terminates TLS). Bearer tokens, plaintext and key material
// would otherwise cross a network in the clear because of one forgotten setting.
import { BlockList, isIP } from 'node:net';
import { ConfigError, type KeyhavenConfig } from './config.js';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * 127.0.0.0/8, ::1 (in any spelling, IPv4-mapped included) and `localhost`. Any other name may
 * resolve to a routable address, and 0.0.0.0 / :: listen on every interface: none is loopback.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  return loopback.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

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
