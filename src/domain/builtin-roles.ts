// The built-in roles (API.md): policies like any other, granted to every principal holding the
// role. A custom policy can still deny what a role allows (explicit deny overrides allow).
import {
  AUDIT_ACTIONS,
  CRYPTO_ACTIONS,
  GRANT_ACTIONS,
  IDENTITY_READ_ACTIONS,
  LIFECYCLE_ACTIONS,
  READ_ACTIONS,
} from './actions.js';
import { parsePolicyDocument, type PolicyDocument } from './policy.js';

export const BUILTIN_ROLES = ['admin', 'key-admin', 'crypto-user', 'auditor'] as const;
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];

const allow = (role: BuiltinRole, sid: string, actions: readonly string[]) => ({
  sid,
  effect: 'allow',
  principals: [`role:${role}`],
  actions: [...actions],
  resources: ['*'],
});

/** Each role's document, parsed (and so checked) once. */
export const BUILTIN_ROLE_POLICIES: Readonly<Record<BuiltinRole, PolicyDocument>> = {
  admin: parsePolicyDocument({ statements: [allow('admin', 'admin-everything', ['*'])] }),
  'key-admin': parsePolicyDocument({
    statements: [
      // GetKeyPolicy but not PutKeyPolicy: a key policy can grant anything on its key, so writing
      // one would give a key-admin the cryptographic use the role excludes.
      allow('key-admin', 'key-admin-lifecycle', [...LIFECYCLE_ACTIONS, ...READ_ACTIONS, 'GetKeyPolicy']),
      // Reading and ending grants, not creating them: a grant gives cryptographic use, as a key
      // policy would.
      allow(
        'key-admin',
        'key-admin-grants',
        GRANT_ACTIONS.filter((action) => action !== 'CreateGrant'),
      ),
    ],
  }),
  'crypto-user': parsePolicyDocument({
    statements: [allow('crypto-user', 'crypto-user-operations', [...CRYPTO_ACTIONS, ...READ_ACTIONS])],
  }),
  auditor: parsePolicyDocument({
    statements: [
      allow('auditor', 'auditor-read', [
        ...READ_ACTIONS,
        ...AUDIT_ACTIONS,
        ...IDENTITY_READ_ACTIONS,
        'ListGrants',
        'ListRetirableGrants',
      ]),
    ],
  }),
};

/** The policy id a built-in role's decisions are attributed to. */
export const builtinRolePolicyId = (role: BuiltinRole) => `builtin:${role}`;
