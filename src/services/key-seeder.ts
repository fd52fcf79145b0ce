// Creates the seed file's keys and aliases that are absent (KEYHAVEN_SEED_FILE, src/seed-file.ts),
// at start-up, as the server itself: through the same service methods as any caller, so that a
// seeded key is an ordinary key, and each creation is in the audit log. A key given with material
// is created as an import (origin EXTERNAL): the material is wrapped here under the import
// parameters' public key, as a client would, and never stored in clear.
import { randomBytes, randomUUID } from 'node:crypto';
import { KmsError } from '../domain/errors.js';
import { isAsymmetric, type KeySpec, type KeyUsage } from '../domain/key-spec.js';
import { internalContext, DEFAULT_TENANT, type RequestContext } from '../domain/request-context.js';
import { zeroize } from '../crypto/key-material.js';
import { aesKwpWrap } from '../crypto/keywrap.js';
import { rsaOaepEncrypt } from '../crypto/rsa-oaep.js';
import { createPublicKey } from 'node:crypto';
import type { AliasService } from './alias-service.js';
import type { AuditLog } from './audit-log.js';
import type { KeyImportService } from './key-import-service.js';
import type { KeyService } from './key-service.js';
import type { TenantService } from './tenant-service.js';

export interface SeedKey {
  keyId: string;
  tenant?: string;
  keySpec: KeySpec;
  keyUsage?: KeyUsage;
  description?: string;
  tags?: Record<string, string>;
  aliases: string[];
  /** Raw symmetric or HMAC bytes, or an asymmetric key's PKCS#8 DER. */
  material?: Buffer;
  enabled: boolean;
}

export interface SeedReport {
  createdKeys: number;
  createdAliases: number;
}

/** A seed that contradicts what the database holds: the server does not start. */
export class SeedError extends Error {
  override name = 'SeedError';
}

export class KeySeeder {
  constructor(
    private readonly keys: KeyService,
    private readonly imports: KeyImportService,
    private readonly aliases: AliasService,
    private readonly tenants: TenantService,
    private readonly audit: Pick<AuditLog, 'recordInternal'>,
  ) {}

  async seed(seedKeys: SeedKey[]): Promise<SeedReport> {
    const report: SeedReport = { createdKeys: 0, createdAliases: 0 };
    try {
      for (const seedKey of seedKeys) {
        if (await this.ensureKey(seedKey)) report.createdKeys += 1;
        for (const alias of seedKey.aliases) {
          if (await this.ensureAlias(seedKey, alias)) report.createdAliases += 1;
        }
      }
    } finally {
      for (const seedKey of seedKeys) if (seedKey.material) zeroize(seedKey.material);
    }
    return report;
  }

  private async ensureKey(seedKey: SeedKey): Promise<boolean> {
    const tenant = seedKey.tenant ?? DEFAULT_TENANT;
    const existing = await this.existing(contextFor('DescribeKey', tenant), seedKey.keyId);
    if (existing) {
      if (
        existing.keySpec !== seedKey.keySpec ||
        (seedKey.keyUsage && existing.keyUsage !== seedKey.keyUsage)
      ) {
        throw new SeedError(
          `seed key ${seedKey.keyId} is ${seedKey.keySpec}${seedKey.keyUsage ? ` ${seedKey.keyUsage}` : ''}, but the database holds it as ${existing.keySpec} ${existing.keyUsage}`,
        );
      }
      return false;
    }
    if (tenant !== DEFAULT_TENANT) await this.tenants.describeTenant(contextFor('DescribeTenant'), tenant);
    const ctx = contextFor('CreateKey', tenant);
    const startedAt = Date.now();
    await this.keys.createKey(
      ctx,
      {
        keySpec: seedKey.keySpec,
        ...(seedKey.keyUsage ? { keyUsage: seedKey.keyUsage } : {}),
        ...(seedKey.description !== undefined ? { description: seedKey.description } : {}),
        ...(seedKey.tags ? { tags: seedKey.tags } : {}),
        ...(seedKey.material ? { origin: 'EXTERNAL' as const } : {}),
      },
      { keyId: seedKey.keyId },
    );
    await this.audit.recordInternal(ctx, tenant, { startedAt });
    if (seedKey.material) await this.importMaterial(seedKey, tenant);
    if (!seedKey.enabled) await this.keys.disableKey(contextFor('DisableKey', tenant), seedKey.keyId);
    return true;
  }

  private async importMaterial(seedKey: SeedKey, tenant: string): Promise<void> {
    const material = seedKey.material!;
    const parameters = await this.imports.getImportParameters(
      contextFor('GetImportParameters', tenant),
      seedKey.keyId,
    );
    const aesKey = randomBytes(32);
    let wrapped: Buffer;
    try {
      const publicKey = createPublicKey(parameters.wrappingPublicKey);
      wrapped = Buffer.concat([
        rsaOaepEncrypt(publicKey, 'RSAES_OAEP_SHA_256', aesKey),
        aesKwpWrap(aesKey, material),
      ]);
    } finally {
      zeroize(aesKey);
    }
    const ctx = contextFor('ImportKeyMaterial', tenant);
    const startedAt = Date.now();
    await this.imports.importKeyMaterial(ctx, seedKey.keyId, {
      importToken: parameters.importToken,
      encryptedKeyMaterial: wrapped,
      wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256',
      keyMaterialType: isAsymmetric(seedKey.keySpec) ? 'PRIVATE_KEY' : 'SYMMETRIC',
    });
    await this.audit.recordInternal(ctx, tenant, { startedAt });
  }

  private async ensureAlias(seedKey: SeedKey, alias: string): Promise<boolean> {
    const tenant = seedKey.tenant ?? DEFAULT_TENANT;
    const target = await this.existing(contextFor('DescribeKey', tenant), alias);
    if (target?.keyId === seedKey.keyId) return false;
    if (target) {
      throw new SeedError(
        `seed alias ${alias} names key ${target.keyId} in the database, not ${seedKey.keyId}`,
      );
    }
    const ctx = contextFor('PutAlias', tenant);
    const startedAt = Date.now();
    await this.aliases.putAlias(ctx, alias, seedKey.keyId);
    await this.audit.recordInternal(ctx, tenant, { startedAt });
    return true;
  }

  private async existing(ctx: RequestContext, reference: string) {
    try {
      return await this.keys.describeKey(ctx, reference);
    } catch (error) {
      if (error instanceof KmsError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }
}

const contextFor = (action: string, tenant = DEFAULT_TENANT) => internalContext(action, randomUUID(), tenant);
