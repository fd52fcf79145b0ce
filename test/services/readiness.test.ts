// Readiness over a key store's parts: every part healthy, except that a failover group (EXTERNAL
// providers) needs one healthy part.
import { describe, expect, it } from 'vitest';
import { isReady } from '../../src/services/readiness-monitor.js';

const part = (name: string, healthy: boolean, failoverGroup?: string) => ({
  name,
  kind: 'test',
  healthy,
  ...(failoverGroup ? { failoverGroup } : {}),
});

describe('isReady', () => {
  it('needs every ungrouped part healthy', () => {
    expect(isReady([part('root', true), part('metadata', true)])).toBe(true);
    expect(isReady([part('root', true), part('metadata', false)])).toBe(false);
  });

  it('needs one healthy part per failover group', () => {
    const root = part('root', true);
    expect(isReady([root, part('a', false, 'external'), part('b', true, 'external')])).toBe(true);
    expect(isReady([root, part('a', false, 'external'), part('b', false, 'external')])).toBe(false);
    expect(isReady([part('root', false), part('a', true, 'external')])).toBe(false);
    expect(isReady([root, part('a', true, 'x'), part('b', false, 'y')])).toBe(false);
  });

  it('never counts an optional part (EXTERNAL providers: the server serves its other keys without them)', () => {
    const optional = (name: string) => ({ ...part(name, false, 'external'), optional: true });
    expect(isReady([part('root', true), optional('a'), optional('b')])).toBe(true);
    expect(isReady([part('root', false), optional('a')])).toBe(false);
  });
});
