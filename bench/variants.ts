// Variants: extra Keyhaven servers that differ from a reference server in one setting, measured in
// the same rounds as it, so that what a feature costs reads as `variant ÷ reference` for the same
// operation in the same round. To measure a new switch (audit, policies, SigV4, ...), add a row.
import { basename } from 'node:path';
import { HSM_OPERATIONS, type Operation } from './scenarios.js';

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
];

/** Why `variant` cannot run as declared (an operation its reference does not serve, a bad name), if so. */
export function variantProblem(variant: Variant): string | undefined {
  const served = (op: Operation) =>
    variant.reference === 'keyhaven-hsm'
      ? HSM_OPERATIONS.includes(op)
      : !HSM_OPERATIONS.includes(op) && op !== 'baseline' && op !== 'aead-floor';
  const foreign = variant.operations.filter((op) => !served(op));
  if (foreign.length > 0) {
    return `variant ${variant.name}: ${foreign.join(', ')} not served by the ${variant.reference} server`;
  }
  if (!/^[a-z0-9-]+$/.test(variant.name)) return `variant ${variant.name}: name must be [a-z0-9-]+`;
  return undefined;
}
