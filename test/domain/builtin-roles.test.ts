import { describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIONS,
  CRYPTO_ACTIONS,
  KEY_EXPORT_ACTIONS,
  LIFECYCLE_ACTIONS,
  READ_ACTIONS,
} from '../../src/domain/actions.js';
import {
  BUILTIN_ROLES,
  BUILTIN_ROLE_POLICIES,
  builtinRolePolicyId,
  type BuiltinRole,
} from '../../src/domain/builtin-roles.js';
import { evaluatePolicies } from '../../src/domain/policy.js';

const allowed = (role: BuiltinRole, action: string) =>
  evaluatePolicies(
    BUILTIN_ROLES.map((r) => ({
      ref: { policyId: builtinRolePolicyId(r), version: 1 },
      document: BUILTIN_ROLE_POLICIES[r],
    })),
    {
      principal: { id: 'p', tenant: 'acme', roles: [role], attributes: {} },
      action,
      key: { keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', aliases: [], tags: {} },
      sourceIp: '10.0.0.1',
      at: new Date(),
    },
  );

describe('built-in roles', () => {
  const matrix: Record<BuiltinRole, { may: readonly string[]; mayNot: readonly string[] }> = {
    admin: {
      may: [
        ...LIFECYCLE_ACTIONS,
        ...CRYPTO_ACTIONS,
        ...READ_ACTIONS,
        ...AUDIT_ACTIONS,
        ...KEY_EXPORT_ACTIONS,
      ],
      mayNot: [],
    },
    'key-admin': {
      may: [...LIFECYCLE_ACTIONS, ...READ_ACTIONS],
      mayNot: [...CRYPTO_ACTIONS, ...AUDIT_ACTIONS, ...KEY_EXPORT_ACTIONS],
    },
    'crypto-user': {
      may: [...CRYPTO_ACTIONS, ...READ_ACTIONS],
      mayNot: [...LIFECYCLE_ACTIONS, ...AUDIT_ACTIONS, ...KEY_EXPORT_ACTIONS],
    },
    auditor: {
      may: [...READ_ACTIONS, ...AUDIT_ACTIONS],
      mayNot: [...LIFECYCLE_ACTIONS, ...CRYPTO_ACTIONS, ...KEY_EXPORT_ACTIONS],
    },
  };

  for (const role of BUILTIN_ROLES) {
    it(`${role}: allowed exactly its actions, each decision named after the role's policy`, () => {
      for (const action of matrix[role].may) {
        const decision = allowed(role, action);
        expect(decision.allowed, `${role} ${action}`).toBe(true);
        expect(decision.decidedBy?.policyId).toBe(`builtin:${role}`);
      }
      for (const action of matrix[role].mayNot) {
        expect(allowed(role, action).allowed, `${role} ${action}`).toBe(false);
      }
    });
  }

  it('grants nothing to a principal without a role', () => {
    const decision = evaluatePolicies(
      BUILTIN_ROLES.map((r) => ({
        ref: { policyId: builtinRolePolicyId(r), version: 1 },
        document: BUILTIN_ROLE_POLICIES[r],
      })),
      {
        principal: { id: 'p', tenant: 'acme', roles: [], attributes: {} },
        action: 'DescribeKey',
        sourceIp: '',
        at: new Date(),
      },
    );
    expect(decision.allowed).toBe(false);
  });

  it('keeps the action groups apart: no action is both lifecycle and cryptographic use', () => {
    const lifecycle = new Set<string>(LIFECYCLE_ACTIONS);
    expect(CRYPTO_ACTIONS.filter((a) => lifecycle.has(a))).toEqual([]);
    expect(READ_ACTIONS.filter((a) => lifecycle.has(a))).toEqual([]);
  });
});
