import { describe, expect, it } from 'vitest';
import { networkMatcher } from '../../src/transports/rest/known-networks.js';

describe('monitoring.knownNetworks', () => {
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 addresses against the CIDRs, single addresses included', () => {
    const known = networkMatcher(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    expect(known('10.1.2.3')).toBe(true);
    expect(known('::ffff:10.1.2.3')).toBe(true);
    expect(known('fd12::1')).toBe(true);
    expect(known('192.0.2.7')).toBe(true);
    expect(known('192.0.2.8')).toBe(false);
    expect(known('127.0.0.1')).toBe(false);
    expect(known('::1')).toBe(false);
    expect(known('not an address')).toBe(false);
  });

  it('treats every address as known when none are listed', () => {
    expect(networkMatcher([])('203.0.113.9')).toBe(true);
  });
});
