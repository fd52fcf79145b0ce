// Configuration: read once at start-up from an optional JSON file (KEYHAVEN_CONFIG) overlaid with
// KEYHAVEN_* environment variables, validated, and passed down. Nothing else reads process.env.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { describeSyntaxError, parseJsonOrLocate } from './json-position.js';
import { CERTIFICATE_IDENTITY_FIELDS } from './domain/client-certificate.js';
import { AES_GCM_MAX_MESSAGES, AES_GCM_ROTATE_AFTER } from './domain/seal-limits.js';
import { isLoopbackHost } from './loopback-host.js';

// One PKCS#11 backend: a library and the token (by label) it serves; the first in the list is the
// primary, the others take over in order when it fails (docs/hsm.md).
const pkcs11BackendSchema = z
  .object({
    name: z.string().min(1).optional(),
    module: z.string().min(1),
    tokenLabel: z.string().min(1).max(32),
    /** Or `pinEnv`: the name of an environment variable holding the PIN, read once at start-up. */
    pin: z.string().min(1, 'each PKCS#11 backend needs a PIN (pin, pinEnv or KEYHAVEN_PKCS11_PIN)'),
    /**
     * Or `soPinEnv`. The security officer's PIN, needed only to set up the transport key that
     * replicates key objects between several backends (docs/hsm.md); never used for operations.
     */
    soPin: z.string().min(1).optional(),
    sessionPoolSize: z.number().int().min(1).max(256).optional(),
    /** Overrides keyStore.pkcs11.synchronousCalls for this backend. */
    synchronousCalls: z.boolean().optional(),
  })
  .strict();

const pkcs11Schema = z
  .object({
    backends: z.array(pkcs11BackendSchema).min(1),
    rootKeyLabel: z.string().min(1).max(64).default('keyhaven-root'),
    /** Label of the shared AES key that carries key objects between backends (several backends only). */
    transportKeyLabel: z.string().min(1).max(64).default('keyhaven-transport'),
    /**
     * How long a new object may stay extractable (under the transport key only) while a backend
     * lacks it; then it is sealed and the missing backends never get it (docs/hsm.md).
     */
    replicationWindowSeconds: z.number().min(1).default(86_400),
    sessionPoolSize: z.number().int().min(1).max(256).default(8),
    sessionWaitMs: z.number().int().min(1).default(5000),
    /**
     * Short token calls (encrypt, sign, wrap...) run on the event loop's thread, not libuv's pool:
     * faster for a token that answers in microseconds (SoftHSM, PCIe), wrong for a network HSM
     * (pkcs11-synchronous-calls.ts, docs/hsm.md "Speed").
     */
    synchronousCalls: z.boolean().default(false),
    healthCheckSeconds: z.number().min(0).default(2),
    circuit: z
      .object({
        failureThreshold: z.number().int().min(1).default(3),
        openSeconds: z.number().min(0.1).default(5),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Pkcs11Config = z.infer<typeof pkcs11Schema>;

// One external KMS provider for EXTERNAL keys (docs/external-keys.md). Credentials may be given
// inline or, better, by the name of an environment variable (`tokenEnv`, `secretAccessKeyEnv`),
// read once at start-up like a PKCS#11 PIN.
const circuitOptions = {
  /** Consecutive provider faults that open its circuit. */
  failureThreshold: z.number().int().min(1).optional(),
  /** Milliseconds an open circuit waits before its one half-open probe. */
  recoveryTimeoutMs: z.number().int().min(1).optional(),
  /** Per-attempt deadline in milliseconds. */
  timeoutMs: z.number().int().min(1).optional(),
  /** Retries after the first attempt, for retryable errors only. */
  retries: z.number().int().min(0).max(10).optional(),
};

/** https, or http to a loopback address only: a provider link carries data keys and credentials. */
const providerUrl = z.url().refine(
  (value) => {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, '$1')))
    );
  },
  { message: 'a provider URL must be https:// (http:// only to a loopback address)' },
);

const externalProviderSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('keyhaven'),
      name: z.string().min(1).max(64),
      /** Base URL of the other Keyhaven server's REST API. */
      url: providerUrl,
      token: z.string().min(1, 'a keyhaven provider needs token (or tokenEnv)'),
      ...circuitOptions,
    })
    .strict(),
  z
    .object({
      type: z.literal('aws-kms'),
      name: z.string().min(1).max(64),
      region: z.string().min(1),
      /** An AWS KMS-compatible endpoint (another Keyhaven's AWS dialect); AWS's own when absent. */
      endpoint: providerUrl.optional(),
      /** Static credentials; absent: the AWS SDK's default chain (environment, profile, role). */
      accessKeyId: z.string().min(1).optional(),
      secretAccessKey: z.string().min(1).optional(),
      ...circuitOptions,
    })
    .strict()
    .refine((p) => (p.accessKeyId === undefined) === (p.secretAccessKey === undefined), {
      message: 'accessKeyId and secretAccessKey (or secretAccessKeyEnv) go together',
    }),
]);

const externalSchema = z
  .object({
    /** Tried in this order to open a message; every one wraps each new message's data key. */
    providers: z
      .array(externalProviderSchema)
      .min(1)
      .max(16)
      .refine((providers) => new Set(providers.map((p) => p.name)).size === providers.length, {
        message: 'provider names must be unique',
      }),
    /**
     * How long a message waits for the other providers' wrapping once one provider has wrapped its
     * data key: a slower one is left out of that message instead of holding every request up.
     */
    wrapGraceMs: z.number().int().min(0).max(60_000).default(500),
  })
  .strict();

export type ExternalKeyStoreConfig = z.infer<typeof externalSchema>;
export type ExternalProviderConfig = ExternalKeyStoreConfig['providers'][number];

const pemPath = z.string().min(1);

// PEM file paths only: the server reads and checks the files at start-up (src/server-tls.ts), so a
// configuration error never has their content to print.
const tlsSchema = z
  .object({
    cert: pemPath.optional(),
    key: pemPath.optional(),
    /** CA certificates that client certificates must chain to; setting it turns on mutual TLS. */
    clientCa: pemPath.optional(),
  })
  .strict()
  .superRefine((tls, context) => {
    if (tls.cert !== undefined && tls.key === undefined)
      context.addIssue({
        code: 'custom',
        path: ['key'],
        message: 'server.tls.cert needs its key: set server.tls.key (or KEYHAVEN_TLS_KEY) too',
      });
    if (tls.key !== undefined && tls.cert === undefined)
      context.addIssue({
        code: 'custom',
        path: ['cert'],
        message: 'server.tls.key needs its certificate: set server.tls.cert (or KEYHAVEN_TLS_CERT) too',
      });
    if (tls.clientCa !== undefined && (tls.cert === undefined || tls.key === undefined))
      context.addIssue({
        code: 'custom',
        path: ['clientCa'],
        message:
          'client certificates are checked over TLS: server.tls.clientCa needs server.tls.cert and key',
      });
  })
  // An empty section is no TLS; after the checks above, a present section has both cert and key.
  .transform((tls) =>
    tls.cert !== undefined && tls.key !== undefined
      ? { cert: tls.cert, key: tls.key, clientCa: tls.clientCa }
      : undefined,
  );

export type TlsConfig = NonNullable<z.infer<typeof tlsSchema>>;

/** The asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037): never `none`, never an HMAC. */
const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

const claimName = z.string().min(1).max(256);

/**
 * PostgreSQL as the metadata store (docs/deploy.md); without a URL, SQLite (`metadata.path`). The
 * URL carries the password: no message here quotes it.
 */
const databaseSchema = z
  .object({
    url: z
      .string()
      .refine((value) => ['postgres:', 'postgresql:'].includes(parseUrl(value)?.protocol ?? ''), {
        message: 'database.url must be a postgres://user:password@host:port/database URL',
      })
      .optional(),
    /** Connections each process keeps open at most. */
    poolSize: z.number().int().min(1).max(1000).default(10),
    /** The server cancels a statement that runs longer (statement_timeout); the client gives up too. */
    statementTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
    /** Opening a connection, or waiting for a free one in the pool, fails after this long. */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
    /** TLS to the database; `sslmode` in the URL works as well. */
    tls: z
      .object({
        /** PEM file: the CA(s) the server's certificate must chain to (TLS on when set). */
        ca: z.string().min(1).optional(),
        /** Check the server's certificate and name (off only for tests against a self-signed server). */
        verify: z.boolean().default(true),
        /** PEM files: a client certificate and its key, for servers that ask for one. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .strict()
      .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
        message: 'database.tls.cert and database.tls.key go together: set both or neither',
      })
      .prefault({}),
  })
  .strict()
  .prefault({});

/**
 * An external OpenID Connect issuer whose JWTs authenticate principals (docs: README, "OpenID
 * Connect"). Claim names may be dotted paths into nested objects (Keycloak's `realm_access.roles`).
 */
const oidcIssuerSchema = z
  .object({
    /** Compared exactly with each token's `iss` (OpenID Connect Core §3.1.3.7), trailing slash and all. */
    issuer: z.string().refine((value) => ['https:', 'http:'].includes(parseUrl(value)?.protocol ?? ''), {
      message: 'issuer must be an http(s) URL, exactly as the issuer writes it in iss',
    }),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    // The keys that decide who is admitted: fetched over TLS, unless they never leave this machine.
    jwksUrl: z.string().superRefine((value, context) => {
      const url = parseUrl(value);
      if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:'))
        context.addIssue({ code: 'custom', message: 'jwksUrl must be an https URL' });
      else if (url.protocol === 'http:' && !isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, '$1')))
        context.addIssue({
          code: 'custom',
          message: 'jwksUrl must be https (plain http only to a loopback address)',
        });
      else if (url.username !== '' || url.password !== '')
        context.addIssue({ code: 'custom', message: 'jwksUrl must not carry credentials' });
    }),
    principalClaim: claimName.default('sub'),
    rolesClaim: claimName.optional(),
    /** Issuer role to Keyhaven role; with a mapping, unmapped roles are dropped. */
    roleMapping: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** The one tenant every principal of this issuer belongs to; or `tenantClaim`. */
    tenant: z.string().min(1).optional(),
    tenantClaim: claimName.optional(),
    algorithms: z.array(z.enum(OIDC_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .refine((issuer) => issuer.tenant === undefined || issuer.tenantClaim === undefined, {
    message: 'set tenant (one fixed tenant) or tenantClaim (read from each token), not both',
    path: ['tenantClaim'],
  });

export type OidcIssuerConfig = z.infer<typeof oidcIssuerSchema>;

const oidcSchema = z
  .object({
    issuers: z.array(oidcIssuerSchema).max(64).default([]),
    /** How long one fetch of an issuer's JWKS may take. */
    fetchTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** How long fetched keys are used before they are fetched again. */
    cacheMaxAgeMs: z.number().int().min(1000).max(86_400_000).default(600_000),
    /** After a fetch, how long a token naming an unknown key waits for the next one (no fetch storms). */
    cooldownMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .strict()
  .superRefine((oidc, context) => {
    const seen = new Set<string>();
    oidc.issuers.forEach(({ issuer }, index) => {
      if (seen.has(issuer))
        context.addIssue({
          code: 'custom',
          path: ['issuers', index, 'issuer'],
          message: `the issuer ${issuer} is listed twice`,
        });
      seen.add(issuer);
    });
  });

export type OidcConfig = z.infer<typeof oidcSchema>;

/** Keyhaven's own access tokens (API.md `POST /v1/auth/token`). */
const accessTokensSchema = z
  .object({
    /** The tokens' `iss`; set it to the server's public URL when other services verify them. */
    issuer: z.string().min(1).default('keyhaven'),
    defaultTtlSeconds: z.number().int().min(1).max(3600).default(900),
    /** Access tokens cannot be revoked before they expire: an hour at most, and only lowered. */
    maxTtlSeconds: z.number().int().min(1).max(3600).default(3600),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(5),
  })
  .strict()
  .refine((tokens) => tokens.defaultTtlSeconds <= tokens.maxTtlSeconds, {
    message: 'defaultTtlSeconds must not exceed maxTtlSeconds',
    path: ['defaultTtlSeconds'],
  });

export type AccessTokensConfig = z.infer<typeof accessTokensSchema>;

/**
 * Mutual TLS as a credential: a request without an Authorization header whose connection presented
 * a client certificate (verified against server.tls.clientCa) acts as the principal of `tenant`
 * whose name is the certificate's `identity` field.
 */
const clientCertificatesSchema = z
  .object({
    identity: z.enum(CERTIFICATE_IDENTITY_FIELDS),
    tenant: z.string().min(1).default('default'),
  })
  .strict();

export type ClientCertificatesConfig = z.infer<typeof clientCertificatesSchema>;

const authSchema = z
  .object({
    accessTokens: accessTokensSchema.prefault({}),
    oidc: oidcSchema.prefault({}),
    clientCertificates: clientCertificatesSchema.optional(),
  })
  .strict()
  .superRefine((auth, context) => {
    // A token of one would pass as a token of the other: the issuer is what picks the verifier.
    auth.oidc.issuers.forEach(({ issuer }, index) => {
      if (issuer === auth.accessTokens.issuer)
        context.addIssue({
          code: 'custom',
          path: ['oidc', 'issuers', index, 'issuer'],
          message: 'an OpenID Connect issuer must differ from auth.accessTokens.issuer',
        });
    });
  });

const configSchema = z
  .object({
    dataDir: z.string().min(1),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8400),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        /**
         * The proxies whose X-Forwarded-For to believe for the client address (policies and audit
         * read it): their addresses or CIDRs. Not `true`: trusting every hop takes the left-most
         * entry, which the client writes itself. (A hop count is no option either: this Fastify
         * trusts no peer for one, as it cannot check the immediate peer.)
         */
        trustProxy: z
          .union([
            z.literal(false),
            z.literal(true).refine(() => false, {
              message:
                'trustProxy: true would believe any client-supplied X-Forwarded-For; list the addresses or CIDRs of the proxies in front',
            }),
            z.array(z.string().min(1).max(64)).min(1).max(64),
          ])
          .default(false),
        /** Serve /metrics without a credential (Vault's unauthenticated_metrics_access). */
        metricsPublic: z.boolean().default(false),
        tls: tlsSchema.optional(),
        /** Listen on a non-loopback address without TLS (src/listen-policy.ts refuses it otherwise). */
        allowInsecure: z.boolean().default(false),
        /** Worker processes sharing the port (node:cluster, docs/cluster.md); 1: the server alone. */
        workers: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    keyStore: z
      .object({
        type: z.enum(['software', 'pkcs11']).default('software'),
        rootPassphrase: z.string().min(8, 'rootPassphrase must have at least 8 characters').optional(),
        pkcs11: pkcs11Schema.optional(),
        /** External KMS providers holding EXTERNAL keys (beside either root). */
        external: externalSchema.optional(),
      })
      .strict()
      .refine((keyStore) => keyStore.type !== 'pkcs11' || keyStore.pkcs11 !== undefined, {
        message:
          'the pkcs11 key store needs keyStore.pkcs11.backends (or KEYHAVEN_PKCS11_MODULE, KEYHAVEN_PKCS11_TOKEN and KEYHAVEN_PKCS11_PIN)',
      })
      .prefault({}),
    metadata: z
      .object({
        type: z.literal('sqlite').default('sqlite'),
        path: z.string().optional(),
      })
      .strict()
      .prefault({}),
    database: databaseSchema,
    limits: z
      .object({
        /** Keys that may exist at once (AWS KMS's default quota is 100,000 per account and region). */
        maxKeys: z.number().int().min(1).default(100_000),
        /**
         * AES-GCM messages one key version seals before it is rotated automatically, and the most it
         * may ever seal (NIST SP 800-38D 8.3: 2^32 with random 96-bit IVs). Both can only be lowered.
         */
        aesGcmRotateAfter: z.number().int().min(1).max(AES_GCM_ROTATE_AFTER).default(AES_GCM_ROTATE_AFTER),
        aesGcmMaxMessages: z.number().int().min(1).max(AES_GCM_MAX_MESSAGES).default(AES_GCM_MAX_MESSAGES),
      })
      .refine((limits) => limits.aesGcmRotateAfter <= limits.aesGcmMaxMessages, {
        message: 'aesGcmRotateAfter must not exceed aesGcmMaxMessages',
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        /** Unwrapped key versions in the material cache (0: none, every use unwraps). */
        maxEntries: z.number().int().min(0).default(10_000),
        ttlSeconds: z.number().int().min(1).default(300),
        keyMetadataTtlMs: z.number().int().min(0).default(1000),
        /**
         * Entries each per-key cache holds before it starts over: key records, aliases and versions,
         * grants, key policies and AES-GCM seal budgets (one per key version). A working set of
         * more keys than this reads them from the database again, and reserves seals again.
         */
        keyMetadataMaxEntries: z.number().int().min(1).default(10_000),
      })
      .strict()
      .prefault({}),
    jobs: z
      .object({
        intervalSeconds: z.number().int().min(1).default(60),
        usageFlushMs: z.number().int().min(10).default(1000),
        /**
         * How long the scheduled work's lease lasts unrenewed, i.e. how soon another process takes
         * the work over when its holder dies (docs/cluster.md). Default: max(15, 3 x intervalSeconds).
         */
        leaseSeconds: z.number().int().min(2).max(86_400).optional(),
      })
      .strict()
      // The holder renews it at every run: a lease shorter than two intervals would lapse between them.
      .refine((jobs) => jobs.leaseSeconds === undefined || jobs.leaseSeconds >= 2 * jobs.intervalSeconds, {
        message: 'leaseSeconds must be at least twice intervalSeconds (the holder renews it at each run)',
        path: ['leaseSeconds'],
      })
      .prefault({}),
    monitoring: z
      .object({
        /**
         * CIDRs the server's clients come from: denials from elsewhere are counted apart
         * (keyhaven_requests_denied_unknown_network_total). Empty: every address is known.
         */
        knownNetworks: z
          .array(
            z
              .string()
              .refine(isCidr, { message: 'must be an IP address or CIDR block (10.0.0.0/8, fd00::/8)' }),
          )
          .max(256)
          .default([]),
      })
      .strict()
      .prefault({}),
    /** The admin web console at /ui (docs/console.md): static files, public like /docs. */
    console: z
      .object({
        enabled: z.boolean().default(true),
        /**
         * Sign-in through an external OpenID Connect issuer (authorization code with PKCE, RFC 7636):
         * one of auth.oidc.issuers, and the public client registered there for the console.
         */
        oidc: z
          .object({
            issuer: z
              .string()
              .refine((value) => ['https:', 'http:'].includes(parseUrl(value)?.protocol ?? ''), {
                message: 'issuer must be an http(s) URL, as in auth.oidc.issuers',
              }),
            clientId: z.string().min(1).max(256),
            scope: z.string().min(1).max(1024).default('openid'),
            /**
             * The issuer's token endpoint, when it is not on the issuer's origin (the discovery
             * document's otherwise): its origin joins the console's connect-src.
             */
            tokenEndpoint: z
              .string()
              .refine((value) => ['https:', 'http:'].includes(parseUrl(value)?.protocol ?? ''), {
                message: 'tokenEndpoint must be an http(s) URL',
              })
              .optional(),
          })
          .strict()
          // The code, the PKCE verifier and the tokens cross it: not in clear under an https issuer.
          .refine(
            (oidc) =>
              oidc.tokenEndpoint === undefined ||
              parseUrl(oidc.issuer)?.protocol !== 'https:' ||
              parseUrl(oidc.tokenEndpoint)?.protocol === 'https:',
            { message: 'tokenEndpoint must be https when the issuer is', path: ['tokenEndpoint'] },
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Off only to measure what the audit log costs: the server warns at every start. */
        enabled: z.boolean().default(true),
        /** The chain's head is signed this often while records arrive, and at shutdown. */
        checkpointIntervalSeconds: z.number().int().min(1).max(86_400).default(60),
        /**
         * true: each record is flushed to the disk (fsync) before its reply, and survives a power
         * loss. false: it is written to the database file before its reply (it survives a crash of
         * the server, as with Vault's file audit device) and reaches the disk with the next flush:
         * the next key change, checkpoint or WAL checkpoint.
         */
        fsync: z.boolean().default(true),
        /** Records per database transaction at most (group commit). */
        maxBatch: z.number().int().min(1).max(10_000).default(500),
      })
      .strict()
      .prefault({}),
    adminToken: z.string().min(16, 'the admin token must have at least 16 characters').optional(),
    /**
     * On first start, the bootstrap admin's access key pair for the AWS dialect
     * (KEYHAVEN_ADMIN_ACCESS_KEY_ID and KEYHAVEN_ADMIN_SECRET_ACCESS_KEY), as AWS's are shaped.
     */
    adminAccessKey: z
      .object({
        accessKeyId: z
          .string()
          .regex(/^[A-Z0-9]{16,128}$/, 'must be 16 to 128 capital letters and digits, as AWS access key ids'),
        secretAccessKey: z
          .string()
          .min(16, 'the secret access key must have at least 16 characters')
          .max(128, 'the secret access key must have at most 128 characters'),
      })
      .strict()
      .optional(),
    auth: authSchema.prefault({}),
    /** Recipient-bound results (docs/api.md "Recipient-bound results"). */
    recipient: z
      .object({
        /**
         * PEM files of the roots attestation documents must chain to (the AWS Nitro Enclaves root,
         * KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS, comma-separated). None: attestation documents are
         * refused, and public-key recipients still accepted.
         */
        attestationRoots: z.array(pemPath).max(16).default([]),
      })
      .strict()
      .prefault({}),
    /** Keys and aliases created at start-up if absent, for development and tests (docs/aws.md). */
    seedFile: z.string().min(1).optional(),
    /** The AWS KMS dialect on `POST /` (docs/aws.md). */
    aws: z
      .object({
        /** The region requests are signed for and ARNs name (KEYHAVEN_AWS_REGION). */
        region: z
          .string()
          .regex(/^[a-z]{2}(-[a-z0-9]+){2,3}$/, 'must be a region name such as us-east-1')
          .default('us-east-1'),
        /** The default tenant's 12-digit account id in ARNs (KEYHAVEN_AWS_ACCOUNT_ID). */
        accountId: z
          .string()
          .regex(/^\d{12}$/, 'must be 12 digits')
          .default('111122223333'),
        /** How far a request's X-Amz-Date may be from the server's clock (AWS: 5 minutes). */
        signatureSkewSeconds: z.number().int().min(1).max(3600).default(300),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    // The console's tokens are presented to this server, which admits only the issuers it knows.
    const consoleIssuer = config.console.oidc?.issuer;
    if (
      consoleIssuer !== undefined &&
      !config.auth.oidc.issuers.some(({ issuer }) => issuer === consoleIssuer)
    )
      context.addIssue({
        code: 'custom',
        path: ['console', 'oidc', 'issuer'],
        message: 'the console signs in through an issuer of auth.oidc.issuers only',
      });
    // Without a client CA no certificate is verified, so none could ever name a principal.
    if (config.auth.clientCertificates !== undefined && config.server.tls?.clientCa === undefined)
      context.addIssue({
        code: 'custom',
        path: ['auth', 'clientCertificates'],
        message:
          'client certificates identify principals only under mutual TLS: set server.tls.clientCa (KEYHAVEN_TLS_CLIENT_CA) too',
      });
  });

export type KeyhavenConfig = z.infer<typeof configSchema>;

export { ConfigError };

type Env = Record<string, string | undefined>;

function integerFromEnv(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function booleanFromEnv(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name} must be 1 or 0 (true or false), got "${raw}"`);
}

function setDefined(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== '') target[key] = value;
}

/**
 * KEYHAVEN_PKCS11_MODULE, _TOKEN and _PIN configure (or override) the first backend, so a single HSM
 * needs no file (_SYNCHRONOUS_CALLS sets synchronousCalls for all); `pinEnv` entries are resolved
 * here, the one place that reads the environment.
 * Returns the names of the variables read for `pinEnv`/`soPinEnv`.
 */
function overlayPkcs11(keyStore: Record<string, unknown>, env: Env): string[] {
  const fromEnv: Record<string, unknown> = {};
  setDefined(fromEnv, 'module', env.KEYHAVEN_PKCS11_MODULE);
  setDefined(fromEnv, 'tokenLabel', env.KEYHAVEN_PKCS11_TOKEN);
  setDefined(fromEnv, 'pin', env.KEYHAVEN_PKCS11_PIN);
  const pkcs11 = { ...((keyStore.pkcs11 as Record<string, unknown>) ?? {}) };
  setDefined(pkcs11, 'synchronousCalls', booleanFromEnv(env, 'KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS'));
  const backends = Array.isArray(pkcs11.backends)
    ? (pkcs11.backends as unknown[]).map((b) => ({ ...(b as Record<string, unknown>) }))
    : [];
  if (Object.keys(fromEnv).length > 0) backends[0] = { ...backends[0], ...fromEnv };
  const pinEnvNames: string[] = [];
  for (const backend of backends) {
    if (typeof backend.pinEnv === 'string') {
      setDefined(backend, 'pin', backend.pin ?? env[backend.pinEnv]);
      pinEnvNames.push(backend.pinEnv);
      delete backend.pinEnv;
    }
    if (typeof backend.soPinEnv === 'string') {
      setDefined(backend, 'soPin', backend.soPin ?? env[backend.soPinEnv]);
      pinEnvNames.push(backend.soPinEnv);
      delete backend.soPinEnv;
    }
  }
  if (backends.length === 0 && keyStore.pkcs11 === undefined) return pinEnvNames;
  keyStore.pkcs11 = { ...pkcs11, backends };
  return pinEnvNames;
}

/**
 * External providers' `tokenEnv` and `secretAccessKeyEnv` are resolved here, as PINs are.
 * Returns the names of the variables read.
 */
function overlayExternal(keyStore: Record<string, unknown>, env: Env): string[] {
  const external = keyStore.external as Record<string, unknown> | undefined;
  if (!external || !Array.isArray(external.providers)) return [];
  const names: string[] = [];
  const providers = (external.providers as unknown[]).map((p) => {
    const provider = { ...(p as Record<string, unknown>) };
    for (const [field, variable] of [
      ['token', 'tokenEnv'],
      ['secretAccessKey', 'secretAccessKeyEnv'],
    ] as const) {
      const name = provider[variable];
      if (typeof name !== 'string') continue;
      setDefined(provider, field, provider[field] ?? env[name]);
      names.push(name);
      delete provider[variable];
    }
    return provider;
  });
  keyStore.external = { ...external, providers };
  return names;
}

/** Secrets the environment may carry; removed from it once read (see forgetSecrets). */
const SECRET_VARIABLES = [
  'KEYHAVEN_ROOT_PASSPHRASE',
  'KEYHAVEN_PKCS11_PIN',
  'KEYHAVEN_ADMIN_TOKEN',
  'KEYHAVEN_ADMIN_SECRET_ACCESS_KEY',
  // Its password.
  'KEYHAVEN_DATABASE_URL',
];

/**
 * Deletes the secrets just read from the environment, so that nothing later in the process (a
 * child process, a crash report, a dependency dumping process.env) finds them there. The variables
 * named by `pinEnv` and `soPinEnv` go too.
 */
function forgetSecrets(env: Env, pinVariables: string[]): void {
  for (const name of [...SECRET_VARIABLES, ...pinVariables]) delete env[name];
}

/** KEYHAVEN_DATABASE_* override the file's database entries one by one. */
function overlayDatabase(fromFile: unknown, env: Env): Record<string, unknown> {
  const database = { ...((fromFile as Record<string, unknown>) ?? {}) };
  const tls = { ...((database.tls as Record<string, unknown>) ?? {}) };
  setDefined(database, 'url', env.KEYHAVEN_DATABASE_URL);
  setDefined(database, 'poolSize', integerFromEnv(env, 'KEYHAVEN_DATABASE_POOL_SIZE'));
  setDefined(database, 'statementTimeoutMs', integerFromEnv(env, 'KEYHAVEN_DATABASE_STATEMENT_TIMEOUT_MS'));
  setDefined(database, 'connectTimeoutMs', integerFromEnv(env, 'KEYHAVEN_DATABASE_CONNECT_TIMEOUT_MS'));
  setDefined(tls, 'ca', env.KEYHAVEN_DATABASE_TLS_CA);
  setDefined(tls, 'verify', booleanFromEnv(env, 'KEYHAVEN_DATABASE_TLS_VERIFY'));
  setDefined(tls, 'cert', env.KEYHAVEN_DATABASE_TLS_CERT);
  setDefined(tls, 'key', env.KEYHAVEN_DATABASE_TLS_KEY);
  database.tls = tls;
  return database;
}

/** KEYHAVEN_ADMIN_ACCESS_KEY_ID and KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: a pair, both or neither. */
function overlayAdminAccessKey(merged: Record<string, unknown>, env: Env): void {
  const accessKeyId = env.KEYHAVEN_ADMIN_ACCESS_KEY_ID;
  const secretAccessKey = env.KEYHAVEN_ADMIN_SECRET_ACCESS_KEY;
  if (accessKeyId === undefined && secretAccessKey === undefined) return;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      'set both KEYHAVEN_ADMIN_ACCESS_KEY_ID and KEYHAVEN_ADMIN_SECRET_ACCESS_KEY (or _FILE), or neither',
    );
  }
  merged.adminAccessKey = { accessKeyId, secretAccessKey };
}

/** KEYHAVEN_TLS_CERT, _KEY and _CLIENT_CA override the file's server.tls entries one by one. */
function overlayTls(server: Record<string, unknown>, env: Env): void {
  const fromFile = server.tls;
  // Not an object: left as it is, for the schema to name the wrong type.
  if (
    fromFile !== undefined &&
    (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile))
  )
    return;
  const tls = { ...((fromFile as Record<string, unknown> | undefined) ?? {}) };
  setDefined(tls, 'cert', env.KEYHAVEN_TLS_CERT);
  setDefined(tls, 'key', env.KEYHAVEN_TLS_KEY);
  setDefined(tls, 'clientCa', env.KEYHAVEN_TLS_CLIENT_CA);
  if (fromFile !== undefined || Object.keys(tls).length > 0) server.tls = tls;
}

/**
 * Reads a file that a setting names. ConfigError names the setting, the path and the system's
 * error code, never any of the content (the files hold secrets, keys and certificates).
 */
export function readConfiguredFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${setting}: cannot read ${path} (${reason})`, { cause });
  }
}

/**
 * `<NAME>_FILE` for each secret variable: the secret is read from that file (one trailing newline
 * dropped), as Docker and Kubernetes secrets are mounted, so that it never sits in the process's
 * environment, not even in the kernel's copy of it. Setting both is an error; a file that cannot be
 * read is named with the variable, never quoted.
 */
function readSecretFiles(env: Env): Env {
  const secrets: Env = {};
  for (const name of SECRET_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined) throw new ConfigError(`set ${name} or ${name}_FILE, not both`);
    const text = readConfiguredFile(`${name}_FILE`, path).toString('utf8');
    const secret = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    if (secret === '') throw new ConfigError(`${name}_FILE: ${path} is empty`);
    secrets[name] = secret;
  }
  return secrets;
}

/**
 * Builds the validated configuration. Throws ConfigError with every problem listed. Secrets read
 * from `env` are deleted from it.
 */
export function loadConfig(processEnv: Env = process.env): KeyhavenConfig {
  // The secrets of <NAME>_FILE variables join a local view of the environment, never the environment.
  const env: Env = { ...processEnv, ...readSecretFiles(processEnv) };
  let fileConfig: Record<string, unknown> = {};
  const file = env.KEYHAVEN_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`);
    }
    // The file may hold a passphrase or PINs: a syntax error is reported by position, never quoted.
    const parsed = parseJsonOrLocate(text);
    if ('error' in parsed) {
      throw new ConfigError(`configuration file ${file} is ${describeSyntaxError(parsed.error)}`);
    }
    if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
      throw new ConfigError(`configuration file ${file} must hold a JSON object`);
    }
    fileConfig = parsed.value as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...fileConfig };
  const server = { ...((fileConfig.server as Record<string, unknown>) ?? {}) };
  const keyStore = { ...((fileConfig.keyStore as Record<string, unknown>) ?? {}) };
  setDefined(merged, 'dataDir', env.KEYHAVEN_DATA_DIR);
  merged.dataDir ??= join(homedir(), '.keyhaven');
  merged.dataDir = resolve(String(merged.dataDir));
  setDefined(server, 'host', env.KEYHAVEN_HOST);
  setDefined(server, 'port', integerFromEnv(env, 'KEYHAVEN_PORT'));
  setDefined(server, 'allowInsecure', booleanFromEnv(env, 'KEYHAVEN_ALLOW_INSECURE'));
  setDefined(server, 'workers', integerFromEnv(env, 'KEYHAVEN_WORKERS'));
  overlayTls(server, env);
  setDefined(keyStore, 'rootPassphrase', env.KEYHAVEN_ROOT_PASSPHRASE);
  setDefined(keyStore, 'type', env.KEYHAVEN_KEYSTORE);
  const pinVariables = [...overlayPkcs11(keyStore, env), ...overlayExternal(keyStore, env)];
  setDefined(merged, 'logLevel', env.KEYHAVEN_LOG_LEVEL);
  setDefined(merged, 'adminToken', env.KEYHAVEN_ADMIN_TOKEN);
  overlayAdminAccessKey(merged, env);
  setDefined(merged, 'seedFile', env.KEYHAVEN_SEED_FILE);
  const aws = { ...((fileConfig.aws as Record<string, unknown>) ?? {}) };
  setDefined(aws, 'region', env.KEYHAVEN_AWS_REGION);
  setDefined(aws, 'accountId', env.KEYHAVEN_AWS_ACCOUNT_ID);
  merged.aws = aws;
  const roots = env.KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS;
  if (roots !== undefined && roots !== '') {
    merged.recipient = {
      ...((fileConfig.recipient as Record<string, unknown>) ?? {}),
      attestationRoots: roots.split(',').map((path) => path.trim()),
    };
  }
  merged.database = overlayDatabase(fileConfig.database, env);
  merged.server = server;
  merged.keyStore = keyStore;

  forgetSecrets(processEnv, pinVariables);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
