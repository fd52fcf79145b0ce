// Which host names and addresses stay on this machine: the listener's plaintext check
// (src/listen-policy.ts) and the configuration's check of OpenID Connect key URLs share it.
import { BlockList, isIP } from 'node:net';

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
