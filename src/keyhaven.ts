// Composition root: createKeyhaven(config) opens the adapters chosen by configuration and wires them
// into the services. The server, the CLI and the tests all start Keyhaven through here.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KeyhavenConfig } from './config.js';
import { internalContext } from './domain/request-context.js';
import { ensurePrivateDirectory } from './adapters/private-files.js';
import { MaterialCache } from './adapters/keystore/software/material-cache.js';
import { loadOrCreateRootKey } from './adapters/keystore/software/sealed-root-key.js';
import { SoftwareKeyBackend } from './adapters/keystore/software/software-key-backend.js';
import { SoftwareRootKeyStore } from './adapters/keystore/software/software-root-key-store.js';
import type { Pkcs11Replication } from './adapters/keystore/pkcs11/pkcs11-replication.js';
import { openMetadataStores, openPostgresChangeFeed } from './adapters/metadata/open-metadata-stores.js';
import { OidcVerifier } from './adapters/identity/oidc-verifier.js';
import { systemClock, type Clock } from './ports/clock.js';
import { LocalChangeFeed, type ChangeFeed } from './ports/change-feed.js';
import type { KeyBackend } from './ports/key-backend.js';
import type { ProtectionLevel } from './domain/key-spec.js';
import { Registry } from 'prom-client';
import type { IdentityStore } from './ports/identity-store.js';
import type { MetadataStore } from './ports/metadata-store.js';
import type { KeyStoreStatus } from './ports/key-store-status.js';
import type { RootKeyStore } from './ports/root-key-store.js';
import { AccessControl } from './services/access-control.js';
import { AccessTokenService } from './services/access-token-service.js';
import { AliasService } from './services/alias-service.js';
import { AuditLog } from './services/audit-log.js';
import { SignatureAuthenticator } from './services/signature-authenticator.js';
import { accessKeyBinding } from './domain/identity.js';
import { AuthService } from './services/auth-service.js';
import { CacheInvalidation } from './services/cache-invalidation.js';
import { ClientTokens } from './services/client-tokens.js';
import { Lease } from './services/lease.js';
import { CryptoService } from './services/crypto-service.js';
import { RecipientBinding } from './services/recipient-binding.js';
import { loadAttestationRoots } from './attestation-roots.js';
import { GrantService } from './services/grant-service.js';
import { KeyDirectory } from './services/key-directory.js';
import { KeyGrants } from './services/key-grants.js';
import { KeySeeder } from './services/key-seeder.js';
import { KeyImportService } from './services/key-import-service.js';
import { KeyExportService } from './services/key-export-service.js';
import { KeyBackupService } from './services/key-backup-service.js';
import { KeyService } from './services/key-service.js';
import { PolicyService } from './services/policy-service.js';
import { PrincipalService } from './services/principal-service.js';
import { ReadinessMonitor, type Readiness } from './services/readiness-monitor.js';
import { SealBudget } from './services/seal-budget.js';
import { ScheduledKeyJobs, type KeyJobsReport } from './services/scheduled-key-jobs.js';
import { SystemKeys } from './services/system-keys.js';
import { TenantService } from './services/tenant-service.js';
import { UsageRecorder } from './services/usage-recorder.js';

export interface Keyhaven {
  config: KeyhavenConfig;
  keys: KeyService;
  aliases: AliasService;
  imports: KeyImportService;
  /** Export of exportable keys, wrapped to a caller's RSA key. */
  exports: KeyExportService;
  /** Backup bundles of keys with all their versions, and their restore. */
  backups: KeyBackupService;
  /** Creates a seed file's absent keys and aliases (KEYHAVEN_SEED_FILE). */
  seeder: KeySeeder;
  crypto: CryptoService;
  /** Decrypt, GenerateDataKey and GenerateRandom with their result sealed to a recipient's key. */
  recipients: RecipientBinding;
  auth: AuthService;
  /** SigV4 for the AWS KMS dialect: access key pairs. */
  signatures: SignatureAuthenticator;
  /** Keyhaven's own access tokens: issued for API keys, verified by `auth`, published as a JWKS. */
  tokens: AccessTokenService;
  access: AccessControl;
  tenants: TenantService;
  principals: PrincipalService;
  policies: PolicyService;
  /** Grants on keys (AWS CreateGrant...): the delegations AccessControl honours. */
  grants: GrantService;
  /** The server's own signing keys (audit checkpoints, access tokens), held by the key store. */
  systemKeys: SystemKeys;
  audit: AuditLog;
  /** Tells the other processes sharing the database which cached entries to drop, and hears theirs. */
  invalidation: CacheInvalidation;
  usage: UsageRecorder;
  metadata: MetadataStore;
  identity: IdentityStore;
  materialCache: MaterialCache;
  /** Facts worth telling the operator at start-up (never secrets, except the one-time admin key). */
  startup: { rootKeyCreated: boolean; rootKeySealed: boolean; rootKeyStore: string };
  /**
   * Runs the scheduled work once: automatic rotation, deletion after the waiting period, destruction
   * of deleted keys' material, forgetting old client tokens. A key that fails is reported, never
   * thrown. Only in the process that holds the jobs' lease: elsewhere it answers `heldElsewhere`.
   */
  runScheduledJobs(): Promise<KeyJobsReport & { heldElsewhere?: true }>;
  /** The last background probe of the key store and the database (never a probe per call). */
  readiness(): Promise<Readiness>;
  /**
   * The key store's parts (sealed root, HSM backends): last known state and statistics, without
   * probing them (for /metrics).
   */
  keyStoreStatistics(): Promise<KeyStoreStatus[]>;
  /** Metrics the key store keeps itself (EXTERNAL providers' calls, latency, circuits), for /metrics. */
  keyStoreMetrics?: Registry;
  close(): Promise<void>;
}

/** How often readiness is probed in the background (what /ready answers from). */
const READINESS_PROBE_MS = 2000;

export interface KeyhavenOverrides {
  clock?: Clock;
  /** How this process hears of other processes' writes (default: alone, LocalChangeFeed). */
  changeFeed?: ChangeFeed;
}

export async function createKeyhaven(
  config: KeyhavenConfig,
  overrides: KeyhavenOverrides = {},
): Promise<Keyhaven> {
  const clock = overrides.clock ?? systemClock;
  // Read before anything is opened: a bad file fails the start with nothing to close.
  const attestationRoots = loadAttestationRoots(config.recipient.attestationRoots);
  ensurePrivateDirectory(config.dataDir);
  const { root, hsm, rootKey, replication } = await openKeyStore(config);
  const {
    kind: metadataKind,
    metadata,
    identity,
    grants: grantStore,
    audit: auditStore,
    leases: leaseStore,
    clientTokens: clientTokenStore,
    replicationQueue,
  } = await openMetadataStores(config);

  // Every cache below announces its invalidations here; other processes' are applied at the end.
  // Processes on one PostgreSQL hear each other through it (LISTEN/NOTIFY), node:cluster workers on
  // SQLite through their primary (the server passes that feed), a process alone needs none.
  const invalidation = new CacheInvalidation(
    overrides.changeFeed ?? (await openPostgresChangeFeed(config)) ?? new LocalChangeFeed(),
  );
  const { announce } = invalidation;
  const materialCache = new MaterialCache(config.cache.maxEntries, config.cache.ttlSeconds * 1000);
  materialCache.startSweeping();
  const software = new SoftwareKeyBackend(root, materialCache);
  const { keyMetadataMaxEntries } = config.cache;
  const directory = new KeyDirectory(
    metadata,
    config.cache.keyMetadataTtlMs,
    keyMetadataMaxEntries,
    announce,
  );
  const usage = new UsageRecorder(metadata, clock);
  // EXTERNAL keys' providers keep their own metrics (calls, failures, latency, circuit): /metrics adds them.
  const keyStoreMetrics = config.keyStore.external ? new Registry() : undefined;
  // The PKCS#11 and EXTERNAL adapters (pkcs11js and koffi; the AWS SDK) load only when configured.
  const external = config.keyStore.external
    ? (await import('./adapters/keystore/external/open-external-key-store.js')).openExternalKeyStore(
        config.keyStore.external,
        root,
        materialCache,
        keyStoreMetrics,
      ).backend
    : undefined;
  const backends: Partial<Record<ProtectionLevel, KeyBackend>> = {
    SOFTWARE: software,
    ...(hsm ? { HSM: hsm } : {}),
    ...(external ? { EXTERNAL: external } : {}),
  };
  const identityTtlMs = config.cache.keyMetadataTtlMs;
  const keyGrants = new KeyGrants(grantStore, config.cache.keyMetadataTtlMs, keyMetadataMaxEntries, announce);
  const access = new AccessControl(
    identity,
    directory,
    clock,
    identityTtlMs,
    keyGrants,
    keyMetadataMaxEntries,
    announce,
  );
  // In the HSM when there is one: a database administrator must not be able to sign for the server.
  const systemKeys = new SystemKeys(metadata, hsm ?? software, hsm ? 'HSM' : 'SOFTWARE', clock, announce);
  const tokens = new AccessTokenService(systemKeys, access, config.auth.accessTokens, clock);
  const { oidc } = config.auth;
  const auth = new AuthService(identity, clock, {
    accessTokens: tokens,
    oidc: new OidcVerifier(oidc.issuers, {
      fetchTimeoutMs: oidc.fetchTimeoutMs,
      cacheMaxAgeMs: oidc.cacheMaxAgeMs,
      cooldownMs: oidc.cooldownMs,
    }),
    clientCertificates: config.auth.clientCertificates,
    announce,
  });
  const tenants = new TenantService(identity, access, clock, identityTtlMs);
  const principals = new PrincipalService(identity, tenants, access, auth, root, clock);
  const signatures = new SignatureAuthenticator(
    identity,
    (accessKey) =>
      root.unwrapKeyMaterial(accessKey.wrappedSecret, accessKeyBinding(accessKey.accessKeyId), 0),
    clock,
    {
      region: config.aws.region,
      service: 'kms',
      skewMs: config.aws.signatureSkewSeconds * 1000,
      cacheTtlMs: identityTtlMs,
    },
  );
  auth.alsoForget(() => signatures.forget());
  const policies = new PolicyService(identity, tenants, principals, access, directory, clock, {
    region: config.aws.region,
    accountId: config.aws.accountId,
  });
  const clientTokens = new ClientTokens(clientTokenStore, clock);
  const keys = new KeyService(
    metadata,
    directory,
    backends,
    root,
    usage,
    clock,
    access,
    {
      visibleTenantId: async (ctx, tenantId) => (await tenants.visibleTenant(ctx, tenantId)).tenantId,
      maxKeysOf: (tenantId) => tenants.maxKeysOf(tenantId),
      checkKeyPolicy: (ctx, document) => policies.checkKeyPolicy(ctx, document),
      createKeyPolicy: (key, checked) => policies.createKeyPolicy(key, checked),
      deleteKeyPolicy: (keyId) => policies.deleteKeyPolicy(keyId),
    },
    config.limits.maxKeys,
    clientTokens,
  );
  const grants = new GrantService(grantStore, keyGrants, identity, directory, access, clock);
  const aliases = new AliasService(metadata, directory, clock, access);
  const imports = new KeyImportService(metadata, directory, keys, root, clock, access);
  // Scheduled work runs in one process at a time across all that share the database. The lease
  // outlives a few runs, so a holder that dies is replaced within it (docs/cluster.md).
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = (config.jobs.leaseSeconds ?? Math.max(15, 3 * config.jobs.intervalSeconds)) * 1000;
  const jobsLease = new Lease(leaseStore, 'scheduled-key-jobs', holder, leaseMs, clock);
  const checkpointLease = new Lease(leaseStore, 'audit-checkpoints', holder, leaseMs, clock);
  // HSM replication catch-up: the queue of copies still to make is in the database, so any node can
  // make them, and one at a time does (docs/hsm.md, "Several HSMs: replication").
  const replicationLease = new Lease(leaseStore, 'hsm-replication', holder, leaseMs, clock);
  await replication?.share(replicationQueue, replicationLease);
  const audit = new AuditLog(
    auditStore,
    systemKeys,
    access,
    clock,
    {
      checkpointIntervalMs: config.audit.checkpointIntervalSeconds * 1000,
      maxBatch: config.audit.maxBatch,
      checkpointLease,
      // Said aloud: a chain that stops verifying is tampering with the database, or its corruption.
      onCheckpointRefused: ({ seq, reason }) =>
        console.error(
          `keyhaven: audit checkpoint refused: the chain does not verify at seq ${seq}: ${reason}`,
        ),
    },
    config.audit.enabled,
  );
  await audit.start();
  const seals = new SealBudget(
    metadata,
    {
      rotateAfter: config.limits.aesGcmRotateAfter,
      maxMessages: config.limits.aesGcmMaxMessages,
      maxTrackedVersions: keyMetadataMaxEntries,
    },
    // A version near the bound rotates as the server's own work, not as the caller whose seal hit it.
    async (keyId, version) => {
      const ctx = internalContext('RotateKey', randomUUID());
      const startedAt = Date.now();
      // Its record is written in the new version's transaction, as a scheduled rotation's.
      await keys.rotateDue(ctx, keyId, version, (rotated) => {
        ctx.facts.keyVersion = rotated.currentVersion;
        return audit.internalEntry(ctx, rotated.tenant, { startedAt });
      });
    },
  );
  const crypto = new CryptoService(keys, directory, usage, clock, seals, access);
  const recipients = new RecipientBinding(crypto, attestationRoots, clock);
  const exports = new KeyExportService(metadata, directory, keys, clock, access);
  const backups = new KeyBackupService(
    metadata,
    directory,
    keys,
    root,
    crypto,
    policies,
    (tenantId) => tenants.maxKeysOf(tenantId),
    clock,
    access,
    config.limits.maxKeys,
  );
  const jobs = new ScheduledKeyJobs(metadata, keys, directory, usage, clock, audit);
  const readiness = new ReadinessMonitor(async () => {
    const backends = [...(await software.status()), ...((await external?.status()) ?? [])];
    let databaseHealthy = true;
    try {
      await metadata.ping();
    } catch {
      databaseHealthy = false;
    }
    backends.push({ name: 'metadata', kind: metadataKind, healthy: databaseHealthy });
    return backends;
  }, READINESS_PROBE_MS);
  await readiness.start();
  invalidation.listen({
    key(keyId) {
      directory.drop(keyId);
      // A disabled, deleted or re-imported key's material must not stay usable here either.
      for (const backend of Object.values(backends)) backend!.evictKey(keyId);
    },
    grants: (keyId) => keyGrants.drop(keyId),
    policy: (policyId, keyId) => access.dropPolicy(policyId, keyId),
    tenant(tenantId) {
      access.dropTenant(tenantId);
      tenants.drop(tenantId);
    },
    credentials: () => auth.dropCredentials(),
    systemKeys() {
      systemKeys.drop();
      tokens.drop();
    },
    all() {
      directory.dropAll();
      materialCache.clear();
      keyGrants.dropAll();
      access.dropAll();
      tenants.dropAll();
      auth.dropCredentials();
      systemKeys.drop();
      tokens.drop();
    },
  });

  return {
    config,
    keys,
    aliases,
    imports,
    exports,
    backups,
    seeder: new KeySeeder(keys, imports, aliases, tenants, audit),
    crypto,
    recipients,
    auth,
    signatures,
    tokens,
    access,
    tenants,
    principals,
    policies,
    grants,
    systemKeys,
    audit,
    invalidation,
    usage,
    metadata,
    identity,
    materialCache,
    startup: { rootKeyCreated: rootKey.created, rootKeySealed: rootKey.sealed, rootKeyStore: root.kind },
    async runScheduledJobs() {
      const report = await jobsLease.whileHeld(async () => {
        const done = await jobs.run();
        await clientTokens.purge();
        return done;
      });
      return report ?? { rotated: 0, deleted: 0, destroyed: 0, failures: [], heldElsewhere: true };
    },
    readiness: () => readiness.current(),
    async keyStoreStatistics() {
      return [
        ...(await software.status({ probe: false })),
        ...((await external?.status({ probe: false })) ?? []),
      ];
    },
    keyStoreMetrics,
    async close() {
      readiness.close();
      await invalidation.close();
      await jobs.idle();
      await usage.flush();
      await audit.close();
      // Another process takes the work over at its next run instead of after the lease's expiry.
      await jobsLease.release().catch(() => undefined);
      await checkpointLease.release().catch(() => undefined);
      await replicationLease.release().catch(() => undefined);
      await software.close();
      await external?.close();
      await metadata.close();
    },
  };
}

/**
 * The configured root of the key hierarchy, and the HSM backend when the key store has one (also
 * used by `keyhaven backup verify`, which must open it exactly as the server does).
 */
export async function openKeyStore(config: KeyhavenConfig): Promise<{
  root: RootKeyStore;
  hsm?: KeyBackend;
  rootKey: { created: boolean; sealed: boolean };
  /** With several HSM backends: the copies between them, whose queue the database then keeps. */
  replication?: Pkcs11Replication;
}> {
  const { pkcs11 } = config.keyStore;
  if (config.keyStore.type === 'pkcs11' && pkcs11) {
    const { openPkcs11KeyStore } = await import('./adapters/keystore/pkcs11/open-pkcs11-key-store.js');
    const store = await openPkcs11KeyStore(pkcs11, config.dataDir);
    return {
      root: store.root,
      hsm: store.backend,
      rootKey: { created: store.rootKeyCreated, sealed: true },
      replication: store.failover.replication?.enabled ? store.failover.replication : undefined,
    };
  }
  const rootKey = await loadOrCreateRootKey(config.dataDir, config.keyStore.rootPassphrase);
  return { root: new SoftwareRootKeyStore(rootKey.key), rootKey };
}
