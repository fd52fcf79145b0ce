// Variants: extra Keyhaven servers that differ from a reference server in one setting, measured in
// the same rounds as it, so that what a feature costs reads as `variant ÷ reference` for the same
// operation in the same round. To measure a new switch (audit, policies, SigV4, ...), add a row.
import { basename } from 'node:path';
import { BUILTIN_ROLES } from '../src/domain/builtin-roles.js';
import { EXTERNAL_OPERATIONS, HSM_OPERATIONS, type BenchPrincipal, type Operation } from './scenarios.js';

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
  /**
   * Keyhaven processes serving the variant (default 1): the nodes of one cluster, on one database
   * (`database: 'postgres'`), with the same sealed root key file and passphrase and the same
   * bootstrap admin. The load spreads its connections over them in turn.
   */
  nodes?: number;
  /**
   * `postgres`: the variant's nodes keep their metadata in a database of their own on the bench's
   * PostgreSQL server (KEYHAVEN_DATABASE_URL) instead of SQLite in the data directory.
   */
  database?: 'postgres';
  /**
   * Keys in the store before the rounds (filled in bulk, bench/fill-keys.ts); each encrypt request
   * names one of them, drawn at random.
   */
  keys?: number;
  /**
   * With `keys`: the requests draw their key from the first `keysUsed` of them only (default all):
   * the working set of a smaller store in a large one, to compare the lookup alone.
   */
  keysUsed?: number;
  /** The concurrencies its rows run at, of those the run measures (default: all of them). */
  concurrencies?: readonly number[];
}

/** Most nodes a variant may have: they all run on this machine. */
export const MAX_NODES = 8;
/** Most keys a variant may fill its store with. */
export const MAX_KEYS = 1_000_000;

/** Operations a checkout comparison measures unless BENCH_OPS narrows them. */
const CHECKOUT_OPERATIONS: readonly Operation[] = ['encrypt', 'decrypt', 'datakey', 'sign', 'verify'];

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

/** Settings of the uncached key-store rows: every request reads its key from the store. */
const UNCACHED = { cache: { maxEntries: 0, keyMetadataTtlMs: 0 } };

export const VARIANTS: readonly Variant[] = [
  {
    name: 'hsm-async',
    description:
      'keyStore.pkcs11.synchronousCalls false (the default): each PKCS#11 call goes through ' +
      "libuv's thread pool and back; the HSM reference runs short calls on the event loop's thread",
    env: { KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS: '0' },
    reference: 'keyhaven-hsm',
    operations: ['hsm-encrypt', 'hsm-sign'],
  },
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
    name: 'no-console',
    description:
      'console.enabled false: no /ui routes (the reference serves the admin console, which must add ' +
      'nothing to the API routes: encrypt should be unchanged)',
    config: { console: { enabled: false } },
    reference: 'keyhaven',
    operations: ['encrypt'],
    switchesOff: true,
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
  {
    name: 'pg-1',
    description:
      "one node on PostgreSQL (a database of its own on the bench's PostgreSQL server, fsync on) " +
      "instead of SQLite, its root key sealed under a passphrase as a cluster's nodes share it",
    reference: 'keyhaven',
    database: 'postgres',
    operations: ['encrypt', 'decrypt'],
  },
  {
    name: 'pg-2',
    description:
      'two nodes of @pg-1 on one PostgreSQL database, with the same sealed root key; the ' +
      'connections alternate between them',
    reference: 'keyhaven',
    database: 'postgres',
    nodes: 2,
    operations: ['encrypt', 'decrypt'],
    // At concurrency 1 there is one connection, so one node would serve everything.
    concurrencies: [16, 64],
    over: ['pg-1'],
  },
  {
    name: 'pg-3',
    description: 'three nodes of @pg-1 on one PostgreSQL database; the connections go to each in turn',
    reference: 'keyhaven',
    database: 'postgres',
    nodes: 3,
    operations: ['encrypt', 'decrypt'],
    concurrencies: [16, 64],
    over: ['pg-1'],
  },
  {
    name: 'workers-2',
    description:
      'server.workers 2 (KEYHAVEN_WORKERS): two worker processes sharing the port through ' +
      'node:cluster and the SQLite file',
    env: { KEYHAVEN_WORKERS: '2' },
    reference: 'keyhaven',
    operations: ['encrypt'],
    concurrencies: [16, 64],
  },
  {
    name: 'keys-100',
    description: '100 keys in the store, each request names one at random (all of them fit the caches)',
    reference: 'keyhaven',
    keys: 100,
    operations: ['encrypt'],
    concurrencies: [1, 16],
  },
  {
    name: 'keys-100k',
    description:
      '100,000 keys in the store, each request names one at random: most miss the 10,000-entry ' +
      'caches (read from the store, unwrapped) and take a first AES-GCM seal block for their version',
    reference: 'keyhaven',
    keys: 100_000,
    operations: ['encrypt'],
    concurrencies: [1, 16],
    over: ['keys-100'],
  },
  {
    name: 'keys-100-uncached',
    description:
      '@keys-100 with cache.maxEntries 0 and cache.keyMetadataTtlMs 0: every request reads its key ' +
      'from the store and unwraps its material',
    reference: 'keyhaven',
    config: UNCACHED,
    keys: 100,
    operations: ['encrypt'],
    concurrencies: [1, 16],
  },
  {
    name: 'keys-100k-uncached',
    description:
      '100,000 keys in the store, the caches of @keys-100-uncached, each request names one of the ' +
      'same 100 keys: over it, what the lookup costs in a store 1,000 times as large',
    reference: 'keyhaven',
    config: UNCACHED,
    keys: 100_000,
    keysUsed: 100,
    operations: ['encrypt'],
    concurrencies: [1, 16],
    over: ['keys-100-uncached'],
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
      : !HSM_OPERATIONS.includes(op) &&
        !EXTERNAL_OPERATIONS.includes(op) &&
        op !== 'baseline' &&
        op !== 'aead-floor';
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
  const scale = scaleProblem(variant);
  if (scale) return `variant ${variant.name}: ${scale}`;
  for (const name of variant.over ?? []) {
    const other = variants.find((v) => v.name === name);
    if (!other || other === variant) return `variant ${variant.name}: over names no other variant "${name}"`;
    if (other.reference !== variant.reference) {
      return `variant ${variant.name}: over ${name}, a variant of the ${other.reference} server`;
    }
    if (!variant.operations.some((op) => other.operations.includes(op))) {
      return `variant ${variant.name}: over ${name}, which runs none of its operations`;
    }
    const common = (variant.concurrencies ?? []).filter(
      (c) => other.concurrencies === undefined || other.concurrencies.includes(c),
    );
    if (variant.concurrencies && common.length === 0) {
      return `variant ${variant.name}: over ${name}, which runs at none of its concurrencies`;
    }
  }
  return undefined;
}

/** What is wrong with the variant's nodes, database, keys or concurrencies, if anything. */
function scaleProblem(variant: Variant): string | undefined {
  const { nodes, database, keys, concurrencies } = variant;
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES)) {
    return `nodes must be an integer from 1 to ${MAX_NODES}`;
  }
  if ((nodes ?? 1) > 1 && database !== 'postgres') {
    return 'several nodes need a database they share: database postgres';
  }
  if (database && variant.reference !== 'keyhaven')
    return `database ${database} needs the keyhaven reference`;
  if ((database || (nodes ?? 1) > 1 || keys !== undefined) && variant.checkout) {
    return 'a checkout comparison runs one server on SQLite, with the bench keys';
  }
  if (keys !== undefined) {
    if (!Number.isInteger(keys) || keys < 1 || keys > MAX_KEYS) {
      return `keys must be an integer from 1 to ${MAX_KEYS.toLocaleString('en')}`;
    }
    const others = variant.operations.filter((op) => op !== 'encrypt');
    if (others.length > 0) return `keys spreads encrypt requests over the keys; not ${others.join(', ')}`;
    if (variant.principal) return 'keys: the filled keys have no key policy for a principal';
  }
  if (variant.keysUsed !== undefined) {
    if (keys === undefined) return 'keysUsed needs keys';
    if (!Number.isInteger(variant.keysUsed) || variant.keysUsed < 1 || variant.keysUsed > keys) {
      return `keysUsed must be an integer from 1 to keys (${keys})`;
    }
  }
  if (concurrencies !== undefined) {
    if (concurrencies.length === 0 || concurrencies.some((c) => !Number.isInteger(c) || c < 1)) {
      return 'concurrencies must list positive integers';
    }
  }
  return undefined;
}

/**
 * The concurrencies the variant's rows run at in a run measuring `measured`: those it lists that
 * the run measures, or all of them.
 */
export function variantConcurrencies(variant: Variant, measured: readonly number[]): number[] {
  return variant.concurrencies ? measured.filter((c) => variant.concurrencies!.includes(c)) : [...measured];
}

/**
 * Whether the variant needs what only `npm run bench` sets up (several nodes or worker processes,
 * PostgreSQL, a filled store): instruction counts measure one process per server.
 */
export const benchOnly = (variant: Variant): boolean =>
  (variant.nodes ?? 1) > 1 ||
  variant.database !== undefined ||
  variant.keys !== undefined ||
  Number(variant.env?.KEYHAVEN_WORKERS ?? 1) > 1;
