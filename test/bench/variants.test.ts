import { describe, expect, it } from 'vitest';
import {
  VARIANTS,
  benchOnly,
  variantConcurrencies,
  variantProblem,
  type Variant,
} from '../../bench/variants.js';

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

  it('refuses nodes without a shared database, or a database on the HSM reference', () => {
    expect(variantProblem(variant('x', { nodes: 2 }))).toContain('database postgres');
    expect(variantProblem(variant('x', { nodes: 2, database: 'postgres' }))).toBeUndefined();
    expect(variantProblem(variant('x', { nodes: 0, database: 'postgres' }))).toContain('from 1 to 8');
    expect(variantProblem(variant('x', { nodes: 1.5, database: 'postgres' }))).toContain('from 1 to 8');
    const onHsm = variant('x', {
      reference: 'keyhaven-hsm',
      operations: ['hsm-encrypt'],
      database: 'postgres',
    });
    expect(variantProblem(onHsm)).toContain('needs the keyhaven reference');
    expect(variantProblem(variant('x', { database: 'postgres', checkout: '../other' }))).toContain(
      'checkout',
    );
  });

  it('refuses filled keys for other operations than encrypt, with a principal, or a bad keysUsed', () => {
    expect(variantProblem(variant('x', { keys: 100 }))).toBeUndefined();
    expect(variantProblem(variant('x', { keys: 0 }))).toContain('keys must be an integer');
    expect(variantProblem(variant('x', { keys: 100, operations: ['encrypt', 'decrypt'] }))).toContain(
      'not decrypt',
    );
    expect(
      variantProblem(variant('x', { keys: 100, principal: { roles: ['crypto-user'], keyPolicy: true } })),
    ).toContain('no key policy');
    expect(variantProblem(variant('x', { keysUsed: 10 }))).toContain('keysUsed needs keys');
    expect(variantProblem(variant('x', { keys: 100, keysUsed: 101 }))).toContain('from 1 to keys (100)');
    expect(variantProblem(variant('x', { keys: 100, keysUsed: 100 }))).toBeUndefined();
  });

  it('runs a variant at the concurrencies it lists that the run measures, and checks its over', () => {
    expect(variantProblem(variant('x', { concurrencies: [] }))).toContain('positive integers');
    const scaled = variant('x', { concurrencies: [16, 64] });
    expect(variantConcurrencies(scaled, [1, 16, 64])).toEqual([16, 64]);
    expect(variantConcurrencies(scaled, [1])).toEqual([]);
    expect(variantConcurrencies(variant('y'), [1, 16])).toEqual([1, 16]);
    const atOne = variant('one', { concurrencies: [1] });
    expect(variantProblem(variant('x', { concurrencies: [16], over: ['one'] }), [atOne])).toContain(
      'none of its concurrencies',
    );
    expect(variantProblem(variant('x', { concurrencies: [1, 16], over: ['one'] }), [atOne])).toBeUndefined();
  });

  it('divides the scale rows by the rows they scale from, and leaves them out of instruction counts', () => {
    const byName = (name: string) => VARIANTS.find((v) => v.name === name)!;
    expect(byName('pg-2').over).toEqual(['pg-1']);
    expect(byName('pg-3')).toMatchObject({ nodes: 3, database: 'postgres', over: ['pg-1'] });
    expect(byName('keys-100k').over).toEqual(['keys-100']);
    expect(byName('keys-100k-uncached')).toMatchObject({ keys: 100_000, keysUsed: 100 });
    for (const name of ['pg-1', 'pg-3', 'workers-2', 'keys-100k']) expect(benchOnly(byName(name))).toBe(true);
    expect(benchOnly(byName('no-cache'))).toBe(false);
  });
});
