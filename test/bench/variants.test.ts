import { describe, expect, it } from 'vitest';
import { VARIANTS, variantProblem, type Variant } from '../../bench/variants.js';

const variant = (name: string, extra: Partial<Variant> = {}): Variant => ({
  name,
  description: '',
  reference: 'keyhaven',
  operations: ['encrypt'],
  ...extra,
});

describe('bench variants', () => {
  it('declares only variants whose reference serves their operations, under distinct names', () => {
    for (const variant of VARIANTS) expect(variantProblem(variant)).toBeUndefined();
    expect(new Set(VARIANTS.map((v) => v.name)).size).toBe(VARIANTS.length);
  });

  it('refuses an operation the reference server does not serve', () => {
    const onHsm = {
      name: 'x',
      description: '',
      reference: 'keyhaven-hsm' as const,
      operations: ['encrypt' as const],
    };
    expect(variantProblem(onHsm)).toContain('encrypt not served by the keyhaven-hsm server');
  });

  it('refuses a principal with a role that is not built in, or allowed nothing', () => {
    expect(variantProblem(variant('x', { principal: { roles: ['crypto-user', 'root'] } }))).toContain(
      'root not a built-in role',
    );
    expect(variantProblem(variant('x', { principal: { roles: [] } }))).toContain('allowed nothing');
    expect(variantProblem(variant('x', { principal: { roles: [], keyPolicy: true } }))).toBeUndefined();
  });

  it('refuses an over naming no other variant, one on another server or with no common operation', () => {
    const other = variant('other', { operations: ['encrypt', 'decrypt'] });
    const all = [other];
    expect(variantProblem(variant('x', { over: ['other'] }), all)).toBeUndefined();
    expect(variantProblem(variant('x', { over: ['missing'] }), all)).toContain('no other variant "missing"');
    const self = variant('x', { over: ['x'] });
    expect(variantProblem(self, [self])).toContain('no other variant "x"');
    const onHsm = variant('hsm', { reference: 'keyhaven-hsm', operations: ['hsm-encrypt'] });
    expect(variantProblem(variant('x', { over: ['hsm'] }), [onHsm])).toContain('the keyhaven-hsm server');
    expect(variantProblem(variant('x', { operations: ['sign'], over: ['other'] }), all)).toContain(
      'none of its operations',
    );
  });
});
