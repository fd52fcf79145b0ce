import { describe, expect, it } from 'vitest';
import { VARIANTS, variantProblem } from '../../bench/variants.js';

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
});
