// Variants: extra Keyhaven servers that differ from a reference server in one setting, measured in
// the same rounds as it, so that what a feature costs reads as `variant ÷ reference` for the same
// operation in the same round. To measure a new switch (audit, policies, SigV4, ...), add a row.
import { basename } from 'node:path';
import { BUILTIN_ROLES } from '../src/domain/builtin-roles.js';
import { HSM_OPERATIONS, type BenchPrincipal, type Operation } from './scenarios.js';

/** The servers a variant can be compared with: SOFTWARE key store, or pkcs11 on a SoftHSM2 token. */
export type ReferenceServer = 'keyhaven' | 'keyhaven-hsm';

export interface Variant {
  /** Short name: the rows are labelled `<operation>@<name>`. */
  name: string;
  /** What differs from the reference, for the report. */
  description: string;
  /** Environment of the variant server on top of what its reference gets. */
  env?: Record<string, string>;
  /** Configuration file sections for settings without an environment variable (KEYHAVEN_CONFIG). */
  config?: Record<string, Record<string, unknown>>;
  /** The server this one is compared with; an HSM variant gets its own fresh SoftHSM2 token. */
  reference: ReferenceServer;
  /** Operations run on both servers and divided round by round (the reference's operations only). */
  operations: readonly Operation[];
  /**
   * Another built checkout of Keyhaven to run instead of this one (its `bin/keyhaven.js`): for a
   * change that has no switch, the same server before it (BENCH_COMPARE_CHECKOUT).
   */
  checkout?: string;
  /**
   * Run the load as another principal than the bootstrap admin: after the server and its keys
   * exist, the bench creates it with these roles (and an API key for it) and, with `keyPolicy`,
   * gives each bench key a policy allowing it the measured operations.
   */
  principal?: BenchPrincipal;
  /**
   * The variant switches off what the reference has on: its ratio is then read the other way
   * round, `operation ÷ operation@name`, what the reference keeps with the feature on.
   */
  switchesOff?: boolean;
  /**
   * Other variants this one's rows are also divided by, for the operations both run
   * (`operation@name ÷ operation@other`): what two differences from the reference cost together.
   */
  over?: readonly string[];
}

/** Operations a checkout comparison measures unless BENCH_OPS narrows them. */
const CHECKOUT_OPERATIONS: readonly Operation[] = ['encrypt', 'decrypt', 'datakey', 'sign'];

/**
 * The variants for BENCH_COMPARE_CHECKOUT: each `<dir>` (a checkout of another commit, built with
 * `npm run build`) is started like the reference, and `encrypt@at-<dir name> ÷ encrypt` reads what
 * the code between them costs, in the same rounds. Several dirs (comma-separated) measure a change
 * on its own: the commit before it and the commit with it, both against this build.
 */
export function checkoutVariants(dirs: string | undefined): Variant[] {
  return (dirs ?? '')
    .split(',')
    .filter((dir) => dir !== '')
    .map((dir) => ({
      name: `at-${basename(dir)
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')}`,
      description: `the same server built from ${dir}`,
      reference: 'keyhaven' as const,
      operations: CHECKOUT_OPERATIONS,
      checkout: dir,
    }));
}

export const VARIANTS: readonly Variant[] = [
  {
    name: 'no-cache',
    description:
      'cache.maxEntries 0: every request unwraps the key material under the root key (sign also ' +
      'parses the PKCS#8 private key), as a deployment with the material cache switched off does',
    config: { cache: { maxEntries: 0 } },
    reference: 'keyhaven',
    operations: ['encrypt', 'sign'],
  },
  {
    name: 'audit-off',
    description:
      'audit.enabled false: no audit record per request (the reference writes one, hash-chained, ' +
      'group-committed to SQLite on a writer thread and flushed to the disk, before each reply)',
    config: { audit: { enabled: false } },
    reference: 'keyhaven',
    operations: ['encrypt', 'decrypt'],
    switchesOff: true,
  },
  {
    name: 'audit-no-fsync',
    description:
      'audit.fsync false: each record is written to the database file before its reply but not ' +
      'flushed to the disk (the reference, audit.fsync true, waits for the flush)',
    config: { audit: { fsync: false } },
    reference: 'keyhaven',
    operations: ['encrypt'],
  },
  {
    name: 'crypto-user',
    description:
      'the load runs as a crypto-user principal (its API key) whose access the key policy on each ' +
      'bench key also grants, instead of the bootstrap admin; audit on, as on the reference',
    principal: { roles: ['crypto-user'], keyPolicy: true },
    reference: 'keyhaven',
    operations: ['encrypt', 'decrypt'],
    over: ['audit-off'],
  },
  {
    name: 'crypto-user-audit-off',
    description:
      'the crypto-user principal and key policy of @crypto-user on a server with audit.enabled ' +
      'false: over @audit-off, what authorization alone costs',
    config: { audit: { enabled: false } },
    principal: { roles: ['crypto-user'], keyPolicy: true },
    reference: 'keyhaven',
    operations: ['encrypt'],
    over: ['audit-off'],
  },
];

/**
 * Why `variant` cannot run as declared, if so: an operation its reference does not serve, a bad
 * name, a principal with a role that is not built in or no way to be allowed anything, or a
 * variant in `over` that `variants` lacks, has another reference or shares no operation with it.
 */
export function variantProblem(
  variant: Variant,
  variants: readonly Variant[] = VARIANTS,
): string | undefined {
  const served = (op: Operation) =>
    variant.reference === 'keyhaven-hsm'
      ? HSM_OPERATIONS.includes(op)
      : !HSM_OPERATIONS.includes(op) && op !== 'baseline' && op !== 'aead-floor';
  const foreign = variant.operations.filter((op) => !served(op));
  if (foreign.length > 0) {
    return `variant ${variant.name}: ${foreign.join(', ')} not served by the ${variant.reference} server`;
  }
  if (!/^[a-z0-9-]+$/.test(variant.name)) return `variant ${variant.name}: name must be [a-z0-9-]+`;
  const { principal } = variant;
  if (principal) {
    const unknown = principal.roles.filter((role) => !(BUILTIN_ROLES as readonly string[]).includes(role));
    if (unknown.length > 0) {
      return `variant ${variant.name}: ${unknown.join(', ')} not a built-in role (${BUILTIN_ROLES.join(', ')})`;
    }
    if (principal.roles.length === 0 && !principal.keyPolicy) {
      return `variant ${variant.name}: a principal without roles or key policy is allowed nothing`;
    }
  }
  for (const name of variant.over ?? []) {
    const other = variants.find((v) => v.name === name);
    if (!other || other === variant) return `variant ${variant.name}: over names no other variant "${name}"`;
    if (other.reference !== variant.reference) {
      return `variant ${variant.name}: over ${name}, a variant of the ${other.reference} server`;
    }
    if (!variant.operations.some((op) => other.operations.includes(op))) {
      return `variant ${variant.name}: over ${name}, which runs none of its operations`;
    }
  }
  return undefined;
}
