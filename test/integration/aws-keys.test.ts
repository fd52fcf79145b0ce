// The AWS dialect's key lifecycle, aliases, rotation and tags through the real @aws-sdk/client-kms
// against a real server process: AWS's members, empty bodies, paginators, state errors, and the
// same authorization and tenancy as REST.
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  DecryptCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  paginateListAliases,
  paginateListKeyRotations,
  paginateListResourceTags,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGION, accessKeyOf, clientFor, failure, signedFetch, type AccessKey } from './aws-fixtures.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('AWS KMS dialect: keys, aliases, rotation and tags', () => {
  let server: TestServer;
  let system: Api;
  let tenantAdmin: Actor;
  let admin: KMSClient;
  let adminKeys: AccessKey;
  let crypto: KMSClient;
  let otherAdmin: Actor;
  let other: KMSClient;
  let accountId: string;

  const arnOf = (keyId: string) => `arn:aws:kms:${REGION}:${accountId}:key/${keyId}`;
  const newKey = async (input: Parameters<typeof createKey>[1] = {}) =>
    (await createKey(tenantAdmin.api, input)).keyId;
  const stateOf = async (keyId: string) =>
    (await admin.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;
  const tagsOf = async (keyId: string) =>
    (await admin.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags;
  const aliasName = () => `alias/aws-keys-${randomUUID()}`;

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    const tenantId = (await createTenant(system)).tenantId;
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    const user = await createActor(system, tenantId, ['crypto-user']);
    adminKeys = await accessKeyOf(system, tenantAdmin.principal.principalId);
    admin = clientFor(server, adminKeys);
    crypto = clientFor(server, await accessKeyOf(system, user.principal.principalId));
    otherAdmin = await createActor(system, (await createTenant(system)).tenantId, ['admin']);
    other = clientFor(server, await accessKeyOf(system, otherAdmin.principal.principalId));
    const probe = await admin.send(new DescribeKeyCommand({ KeyId: await newKey() }));
    accountId = probe.KeyMetadata!.AWSAccountId!;
  });
  afterAll(async () => {
    for (const client of [admin, crypto, other]) client?.destroy();
    await server?.dispose();
  });

  describe('lifecycle', () => {
    it('disables and enables a key: a disabled key answers DisabledException to Encrypt', async () => {
      const keyId = await newKey();
      expect(await admin.send(new DisableKeyCommand({ KeyId: keyId }))).not.toHaveProperty('KeyId');
      expect(await stateOf(keyId)).toBe('Disabled');
      expect(
        await failure(crypto.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
      ).toMatchObject({ name: 'DisabledException', status: 400 });
      // Idempotent, as AWS: disabling a disabled key, enabling an enabled one.
      await admin.send(new DisableKeyCommand({ KeyId: arnOf(keyId) }));
      await admin.send(new EnableKeyCommand({ KeyId: arnOf(keyId) }));
      await admin.send(new EnableKeyCommand({ KeyId: keyId }));
      expect(await stateOf(keyId)).toBe('Enabled');
      const sealed = await crypto.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('back') }));
      expect(sealed.KeyId).toBe(arnOf(keyId));
    });

    it('schedules deletion (30 days by default, 7-30) and cancels it, which leaves the key Disabled', async () => {
      const keyId = await newKey();
      const before = Date.now();
      const scheduled = await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
      expect(scheduled).toMatchObject({
        KeyId: arnOf(keyId),
        KeyState: 'PendingDeletion',
        PendingWindowInDays: 30,
      });
      const days = (scheduled.DeletionDate!.getTime() - before) / DAY_MS;
      expect(Math.round(days)).toBe(30);
      expect(await stateOf(keyId)).toBe('PendingDeletion');

      // What a key pending deletion refuses, as AWS's key-state table says.
      for (const command of [
        new EnableKeyCommand({ KeyId: keyId }),
        new DisableKeyCommand({ KeyId: keyId }),
        new ScheduleKeyDeletionCommand({ KeyId: keyId }),
        new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'no' }),
        new EnableKeyRotationCommand({ KeyId: keyId }),
        new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }),
        new CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: keyId }),
        new RotateKeyOnDemandCommand({ KeyId: keyId }),
      ]) {
        expect(await failure(admin.send(command as never)), command.constructor.name).toMatchObject({
          name: 'KMSInvalidStateException',
          status: 400,
        });
      }
      expect(
        await failure(crypto.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
      ).toMatchObject({ name: 'KMSInvalidStateException' });

      expect(await admin.send(new CancelKeyDeletionCommand({ KeyId: keyId }))).toMatchObject({
        KeyId: arnOf(keyId),
      });
      const described = (await admin.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(described.KeyState).toBe('Disabled');
      expect(described.DeletionDate).toBeUndefined();
      expect(await failure(admin.send(new CancelKeyDeletionCommand({ KeyId: keyId })))).toMatchObject({
        name: 'KMSInvalidStateException',
      });

      const seven = await admin.send(
        new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
      );
      expect(seven).toMatchObject({ PendingWindowInDays: 7, KeyState: 'PendingDeletion' });
      expect(Math.round((seven.DeletionDate!.getTime() - Date.now()) / DAY_MS)).toBe(7);
    });

    it('refuses EnableKey and DisableKey on a key awaiting its material, and schedules its deletion', async () => {
      const keyId = await newKey({ origin: 'EXTERNAL' });
      for (const command of [
        new EnableKeyCommand({ KeyId: keyId }),
        new DisableKeyCommand({ KeyId: keyId }),
      ]) {
        expect(await failure(admin.send(command as never)), command.constructor.name).toMatchObject({
          name: 'KMSInvalidStateException',
        });
      }
      expect(await stateOf(keyId)).toBe('PendingImport');
      expect(await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }))).toMatchObject({
        KeyState: 'PendingDeletion',
      });
    });

    it('refuses a pending window outside 7-30 with ValidationException, and changes nothing', async () => {
      const keyId = await newKey();
      for (const days of [6, 31, 0]) {
        expect(
          await failure(
            admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days })),
          ),
          String(days),
        ).toMatchObject({ name: 'ValidationException', status: 400 });
      }
      expect(await stateOf(keyId)).toBe('Enabled');
    });

    it('updates the description, to empty too, and refuses one over 8192 characters', async () => {
      const keyId = await newKey({ description: 'first' });
      await admin.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'second' }));
      expect((await admin.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.Description).toBe(
        'second',
      );
      await admin.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: '' }));
      expect((await admin.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.Description).toBe('');
      expect(
        await failure(
          admin.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'x'.repeat(8193) })),
        ),
      ).toMatchObject({ name: 'ValidationException' });
      const missing = await signedFetch(
        server,
        adminKeys,
        'UpdateKeyDescription',
        JSON.stringify({ KeyId: keyId }),
      );
      expect(missing).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
    });

    it('answers the empty bodies AWS answers', async () => {
      const keyId = await newKey();
      const target = await newKey();
      const alias = aliasName();
      const calls: [string, Record<string, unknown>][] = [
        ['DisableKey', { KeyId: keyId }],
        ['EnableKey', { KeyId: keyId }],
        ['UpdateKeyDescription', { KeyId: keyId, Description: 'd' }],
        ['TagResource', { KeyId: keyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }],
        ['UntagResource', { KeyId: keyId, TagKeys: ['k'] }],
        ['EnableKeyRotation', { KeyId: keyId }],
        ['DisableKeyRotation', { KeyId: keyId }],
        ['CreateAlias', { AliasName: alias, TargetKeyId: keyId }],
        ['UpdateAlias', { AliasName: alias, TargetKeyId: target }],
        ['DeleteAlias', { AliasName: alias }],
      ];
      for (const [action, body] of calls) {
        expect(await signedFetch(server, adminKeys, action, JSON.stringify(body)), action).toEqual({
          status: 200,
          body: {},
        });
      }
    });

    it('answers a ListKeys Marker it did not issue with InvalidMarkerException', async () => {
      for (const marker of ['bogus', Buffer.from('1:not-a-key').toString('base64url'), 'x'.repeat(1024)]) {
        expect(await failure(admin.send(new ListKeysCommand({ Marker: marker }))), marker).toMatchObject({
          name: 'InvalidMarkerException',
          status: 400,
        });
      }
      const first = await admin.send(new ListKeysCommand({ Limit: 1 }));
      const next = await admin.send(new ListKeysCommand({ Limit: 1, Marker: first.NextMarker! }));
      expect(next.Keys![0]!.KeyId).not.toBe(first.Keys![0]!.KeyId);
    });
  });

  describe('aliases', () => {
    it('creates, resolves, lists, re-points and deletes an alias', async () => {
      const first = await newKey();
      const second = await newKey();
      const alias = aliasName();
      await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: arnOf(first) }));
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(first);

      const listed = await admin.send(new ListAliasesCommand({ KeyId: first }));
      expect(listed.Truncated).toBe(false);
      expect(listed.NextMarker).toBeUndefined();
      expect(listed.Aliases).toHaveLength(1);
      const entry = listed.Aliases![0]!;
      expect(entry).toMatchObject({
        AliasName: alias,
        AliasArn: `arn:aws:kms:${REGION}:${accountId}:${alias}`,
        TargetKeyId: first,
      });
      expect(entry.LastUpdatedDate).toEqual(entry.CreationDate);

      await admin.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: second }));
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(second);
      const sealed = await crypto.send(new EncryptCommand({ KeyId: alias, Plaintext: Buffer.from('x') }));
      expect(sealed.KeyId).toBe(arnOf(second));
      expect((await admin.send(new ListAliasesCommand({ KeyId: first }))).Aliases).toEqual([]);
      const moved = (await admin.send(new ListAliasesCommand({ KeyId: arnOf(second) }))).Aliases![0]!;
      expect(moved.CreationDate).toEqual(entry.CreationDate);
      expect(moved.LastUpdatedDate!.getTime()).toBeGreaterThanOrEqual(entry.CreationDate!.getTime());

      await admin.send(new DeleteAliasCommand({ AliasName: alias }));
      expect(await failure(admin.send(new DescribeKeyCommand({ KeyId: alias })))).toMatchObject({
        name: 'NotFoundException',
      });
      expect(await failure(admin.send(new DeleteAliasCommand({ AliasName: alias })))).toMatchObject({
        name: 'NotFoundException',
      });
    });

    it('refuses an existing name, a reserved or unprefixed one, and an alias as the target', async () => {
      const keyId = await newKey();
      const alias = aliasName();
      await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      expect(
        await failure(admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: await newKey() }))),
      ).toMatchObject({ name: 'AlreadyExistsException', status: 400 });
      // The alias still names the first key.
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(keyId);
      expect(
        await failure(
          admin.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: keyId })),
        ),
      ).toMatchObject({ name: 'NotAuthorizedException', status: 400 });
      expect(
        await failure(admin.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: keyId }))),
      ).toMatchObject({ name: 'ValidationException' });
      expect(
        await failure(admin.send(new CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: alias }))),
      ).toMatchObject({ name: 'ValidationException', message: 'Aliases must refer to keys. Not aliases' });
      expect(
        await failure(
          admin.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: keyId })),
        ),
      ).toMatchObject({ name: 'ValidationException' });
    });

    it('creates an alias once when many race for the name', async () => {
      const alias = aliasName();
      const keys = await Promise.all([1, 2, 3, 4, 5].map(() => newKey()));
      const results = await Promise.allSettled(
        keys.map((keyId) => admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const result of results.filter((r) => r.status === 'rejected')) {
        expect((result as PromiseRejectedResult).reason.name).toBe('AlreadyExistsException');
      }
      const winner = keys[results.findIndex((r) => r.status === 'fulfilled')];
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(winner);
    });

    it('re-points only an existing alias, to a key of the same type and usage', async () => {
      const keyId = await newKey();
      expect(
        await failure(admin.send(new UpdateAliasCommand({ AliasName: aliasName(), TargetKeyId: keyId }))),
      ).toMatchObject({ name: 'NotFoundException' });
      const alias = aliasName();
      await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      const hmac = await newKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
      const signing = await newKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
      for (const target of [hmac, signing]) {
        expect(
          await failure(admin.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: target }))),
        ).toMatchObject({ name: 'ValidationException' });
      }
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(keyId);
      // The destination may not be pending deletion; the source may.
      const doomed = await newKey();
      await admin.send(new ScheduleKeyDeletionCommand({ KeyId: doomed }));
      expect(
        await failure(admin.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: doomed }))),
      ).toMatchObject({ name: 'KMSInvalidStateException' });
      await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
      const fresh = await newKey();
      await admin.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: fresh }));
      expect((await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(fresh);
    });

    it('pages aliases with the paginator, every alias once; Limit 1-100; a foreign Marker is refused', async () => {
      const keyId = await newKey();
      const made = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const alias = aliasName();
        made.add(alias);
        await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      }
      const seen: string[] = [];
      for await (const page of paginateListAliases({ client: admin, pageSize: 2 }, { KeyId: keyId })) {
        expect(page.Aliases!.length).toBeLessThanOrEqual(2);
        seen.push(...page.Aliases!.map((a) => a.AliasName!));
      }
      expect(seen.sort()).toEqual([...made].sort());
      const all: string[] = [];
      for await (const page of paginateListAliases({ client: admin, pageSize: 3 }, {})) {
        all.push(...page.Aliases!.map((a) => a.AliasName!));
      }
      expect(new Set(all).size).toBe(all.length);
      for (const alias of made) expect(all).toContain(alias);
      const first = await admin.send(new ListAliasesCommand({ KeyId: keyId, Limit: 4 }));
      expect(first).toMatchObject({ Truncated: true, NextMarker: expect.any(String) });
      expect(first.Aliases).toHaveLength(4);

      for (const limit of [0, 101]) {
        expect(
          await failure(admin.send(new ListAliasesCommand({ Limit: limit }))),
          String(limit),
        ).toMatchObject({
          name: 'ValidationException',
        });
      }
      for (const marker of ['bogus', Buffer.from('a:alias/x y').toString('base64url')]) {
        expect(await failure(admin.send(new ListAliasesCommand({ Marker: marker }))), marker).toMatchObject({
          name: 'InvalidMarkerException',
        });
      }
    });
  });

  describe('rotation', () => {
    it('enables (365 days by default), reports and disables automatic rotation', async () => {
      const keyId = await newKey();
      expect(await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).toMatchObject({
        KeyRotationEnabled: false,
        KeyId: arnOf(keyId),
      });
      await admin.send(new EnableKeyRotationCommand({ KeyId: keyId }));
      const enabled = await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      expect(enabled).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 365 });
      expect(Math.round((enabled.NextRotationDate!.getTime() - Date.now()) / DAY_MS)).toBe(365);
      expect(enabled.OnDemandRotationStartDate).toBeUndefined();

      await admin.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
      expect(await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).toMatchObject({
        RotationPeriodInDays: 90,
      });
      for (const days of [89, 2561]) {
        expect(
          await failure(
            admin.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: days })),
          ),
          String(days),
        ).toMatchObject({ name: 'ValidationException' });
      }
      await admin.send(new DisableKeyRotationCommand({ KeyId: keyId }));
      const disabled = await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      expect(disabled.KeyRotationEnabled).toBe(false);
      expect(disabled.RotationPeriodInDays).toBeUndefined();
      expect(disabled.NextRotationDate).toBeUndefined();
    });

    it('rotates on demand, lists the rotations as ON_DEMAND, and old ciphertexts still decrypt', async () => {
      const keyId = await newKey();
      const old = await crypto.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));
      expect((await admin.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations).toEqual([]);
      for (let i = 0; i < 3; i++) {
        expect(await admin.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).toMatchObject({
          KeyId: arnOf(keyId),
        });
      }
      const rotations = (await admin.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!;
      expect(rotations).toHaveLength(3);
      for (const rotation of rotations) {
        expect(rotation).toMatchObject({ KeyId: arnOf(keyId), RotationType: 'ON_DEMAND' });
        expect(rotation.RotationDate).toBeInstanceOf(Date);
      }
      const seen: Date[] = [];
      for await (const page of paginateListKeyRotations({ client: admin, pageSize: 1 }, { KeyId: keyId })) {
        expect(page.Rotations!.length).toBeLessThanOrEqual(1);
        seen.push(...page.Rotations!.map((r) => r.RotationDate!));
      }
      expect(seen).toEqual(rotations.map((r) => r.RotationDate));
      const opened = await crypto.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }));
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('before');
      expect(
        await failure(admin.send(new ListKeyRotationsCommand({ KeyId: keyId, Marker: 'bogus' }))),
      ).toMatchObject({ name: 'InvalidMarkerException' });
      expect(
        await failure(
          admin.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' })),
        ),
      ).toMatchObject({ name: 'UnsupportedOperationException' });
    });

    it('answers UnsupportedOperationException for asymmetric keys and imported material; rotates HMAC keys', async () => {
      const signing = await newKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
      const imported = await newKey({ origin: 'EXTERNAL' });
      for (const keyId of [signing, imported]) {
        for (const command of [
          new EnableKeyRotationCommand({ KeyId: keyId }),
          new DisableKeyRotationCommand({ KeyId: keyId }),
          new GetKeyRotationStatusCommand({ KeyId: keyId }),
          new RotateKeyOnDemandCommand({ KeyId: keyId }),
          new ListKeyRotationsCommand({ KeyId: keyId }),
        ]) {
          expect(await failure(admin.send(command as never)), command.constructor.name).toMatchObject({
            name: 'UnsupportedOperationException',
            status: 400,
          });
        }
      }
      // A difference from AWS, documented: Keyhaven rotates HMAC keys.
      const hmac = await newKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
      await admin.send(new EnableKeyRotationCommand({ KeyId: hmac }));
      await admin.send(new RotateKeyOnDemandCommand({ KeyId: hmac }));
      expect((await admin.send(new ListKeyRotationsCommand({ KeyId: hmac }))).Rotations).toHaveLength(1);
    });

    it('refuses rotation changes on a disabled key (DisabledException) and reports rotation off while pending deletion', async () => {
      const keyId = await newKey();
      await admin.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 180 }));
      await admin.send(new DisableKeyCommand({ KeyId: keyId }));
      for (const command of [
        new EnableKeyRotationCommand({ KeyId: keyId }),
        new DisableKeyRotationCommand({ KeyId: keyId }),
        new RotateKeyOnDemandCommand({ KeyId: keyId }),
      ]) {
        expect(await failure(admin.send(command as never)), command.constructor.name).toMatchObject({
          name: 'DisabledException',
        });
      }
      expect(await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).toMatchObject({
        KeyRotationEnabled: true,
        RotationPeriodInDays: 180,
      });
      await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
      const pending = await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      expect(pending.KeyRotationEnabled).toBe(false);
      expect(pending.RotationPeriodInDays).toBeUndefined();
      expect(await failure(admin.send(new DisableKeyRotationCommand({ KeyId: keyId })))).toMatchObject({
        name: 'KMSInvalidStateException',
      });
      // Cancelling restores the status (AWS).
      await admin.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
      expect(await admin.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).toMatchObject({
        KeyRotationEnabled: true,
        RotationPeriodInDays: 180,
      });
    });
  });

  describe('tags', () => {
    it('adds and overwrites the given tags, keeps the others, and removes the named ones', async () => {
      const keyId = await newKey({ tags: { team: 'payments', env: 'dev' } });
      await admin.send(
        new TagResourceCommand({
          KeyId: keyId,
          Tags: [
            { TagKey: 'env', TagValue: 'prod' },
            { TagKey: 'owner', TagValue: '' },
          ],
        }),
      );
      expect(await tagsOf(keyId)).toEqual([
        { TagKey: 'env', TagValue: 'prod' },
        { TagKey: 'owner', TagValue: '' },
        { TagKey: 'team', TagValue: 'payments' },
      ]);
      await admin.send(new UntagResourceCommand({ KeyId: arnOf(keyId), TagKeys: ['team', 'absent'] }));
      expect(await tagsOf(keyId)).toEqual([
        { TagKey: 'env', TagValue: 'prod' },
        { TagKey: 'owner', TagValue: '' },
      ]);
      const rest = await tenantAdmin.api.get<{ key: { tags: Record<string, string> } }>(`/v1/keys/${keyId}`);
      expect(rest.body.key.tags).toEqual({ env: 'prod', owner: '' });
    });

    it('enforces AWS limits (50 tags, keys 1-128, values 0-256) with nothing half-written', async () => {
      const keyId = await newKey({ tags: { keep: 'me' } });
      const many = Array.from({ length: 50 }, (_, i) => ({ TagKey: `t${i}`, TagValue: 'v' }));
      expect(await failure(admin.send(new TagResourceCommand({ KeyId: keyId, Tags: many })))).toMatchObject({
        name: 'ValidationException',
      });
      for (const tag of [
        { TagKey: 'k'.repeat(129), TagValue: 'v' },
        { TagKey: 'k', TagValue: 'v'.repeat(257) },
      ]) {
        expect(
          await failure(admin.send(new TagResourceCommand({ KeyId: keyId, Tags: [tag] }))),
        ).toMatchObject({
          name: 'ValidationException',
        });
      }
      expect(await tagsOf(keyId)).toEqual([{ TagKey: 'keep', TagValue: 'me' }]);
      const missing = await signedFetch(server, adminKeys, 'TagResource', JSON.stringify({ KeyId: keyId }));
      expect(missing).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
      const noKeys = await signedFetch(server, adminKeys, 'UntagResource', JSON.stringify({ KeyId: keyId }));
      expect(noKeys).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
    });

    it('loses no tag when tags are added concurrently (a refused write says ConflictException)', async () => {
      const keyId = await newKey();
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          admin.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: `c${i}`, TagValue: 'v' }] })),
        ),
      );
      const tags = (await tagsOf(keyId))!.map((t) => t.TagKey);
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') expect(tags).toContain(`c${i}`);
        else expect((result.reason as Error).name).toBe('ConflictException');
      });
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    });

    it('pages tags with the paginator; Limit 1-50; a foreign Marker is refused; lists on a key pending deletion', async () => {
      const tags = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, `v${i}`]));
      const keyId = await newKey({ tags });
      const seen: string[] = [];
      for await (const page of paginateListResourceTags({ client: admin, pageSize: 3 }, { KeyId: keyId })) {
        expect(page.Tags!.length).toBeLessThanOrEqual(3);
        seen.push(...page.Tags!.map((t) => t.TagKey!));
      }
      expect(seen).toEqual(Object.keys(tags).sort());
      const first = await admin.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 7 }));
      expect(first).toMatchObject({ Truncated: false });
      expect(first.NextMarker).toBeUndefined();
      expect(
        await failure(admin.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 51 }))),
      ).toMatchObject({
        name: 'ValidationException',
      });
      expect(
        await failure(admin.send(new ListResourceTagsCommand({ KeyId: keyId, Marker: 'bogus' }))),
      ).toMatchObject({ name: 'InvalidMarkerException' });
      await admin.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
      expect(await tagsOf(keyId)).toHaveLength(7);
      expect(
        await failure(admin.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['k1'] }))),
      ).toMatchObject({ name: 'KMSInvalidStateException' });
    });
  });

  describe('authorization and tenancy', () => {
    it('refuses a crypto-user every lifecycle, alias, rotation and tag change, and changes nothing', async () => {
      const keyId = await newKey({ tags: { a: 'b' } });
      const alias = aliasName();
      await admin.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      for (const command of [
        new DisableKeyCommand({ KeyId: keyId }),
        new EnableKeyCommand({ KeyId: keyId }),
        new ScheduleKeyDeletionCommand({ KeyId: keyId }),
        new CancelKeyDeletionCommand({ KeyId: keyId }),
        new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'mine' }),
        new CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: keyId }),
        new UpdateAliasCommand({ AliasName: alias, TargetKeyId: await newKey() }),
        new DeleteAliasCommand({ AliasName: alias }),
        new EnableKeyRotationCommand({ KeyId: keyId }),
        new DisableKeyRotationCommand({ KeyId: keyId }),
        new RotateKeyOnDemandCommand({ KeyId: keyId }),
        new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'x' }] }),
        new UntagResourceCommand({ KeyId: keyId, TagKeys: ['a'] }),
      ]) {
        expect(await failure(crypto.send(command as never)), command.constructor.name).toMatchObject({
          name: 'AccessDeniedException',
          status: 400,
        });
      }
      const metadata = (await admin.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!;
      expect(metadata).toMatchObject({ KeyId: keyId, KeyState: 'Enabled', Description: '' });
      expect(await tagsOf(keyId)).toEqual([{ TagKey: 'a', TagValue: 'b' }]);
      expect((await admin.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations).toEqual([]);
      // Reading is a crypto-user's right.
      expect((await crypto.send(new ListAliasesCommand({ KeyId: keyId }))).Aliases).toHaveLength(1);
      expect((await crypto.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toHaveLength(1);
      expect((await crypto.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(
        false,
      );
    });

    it("answers another tenant's key and alias exactly as ones that do not exist", async () => {
      const theirs = (await createKey(otherAdmin.api, { tags: { secret: 'x' } })).keyId;
      const theirAlias = aliasName();
      await other.send(new CreateAliasCommand({ AliasName: theirAlias, TargetKeyId: theirs }));
      const random = randomUUID();
      const byKey = (keyId: string) => [
        new EnableKeyCommand({ KeyId: keyId }),
        new DisableKeyCommand({ KeyId: keyId }),
        new ScheduleKeyDeletionCommand({ KeyId: keyId }),
        new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'x' }),
        new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }),
        new ListResourceTagsCommand({ KeyId: keyId }),
        new GetKeyRotationStatusCommand({ KeyId: keyId }),
        new RotateKeyOnDemandCommand({ KeyId: keyId }),
        new ListKeyRotationsCommand({ KeyId: keyId }),
        new ListAliasesCommand({ KeyId: keyId }),
        new CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: keyId }),
      ];
      const foreign = byKey(theirs);
      const unknown = byKey(random);
      for (let i = 0; i < foreign.length; i++) {
        const a = await failure(admin.send(foreign[i] as never));
        const b = await failure(admin.send(unknown[i] as never));
        expect(a.name, foreign[i]!.constructor.name).toBe('NotFoundException');
        expect({ ...a, message: a.message.replace(theirs, 'ID') }).toEqual({
          ...b,
          message: b.message.replace(random, 'ID'),
        });
      }
      const unknownAlias = aliasName();
      for (const [mine, missing] of [
        [new DescribeKeyCommand({ KeyId: theirAlias }), new DescribeKeyCommand({ KeyId: unknownAlias })],
        [
          new DeleteAliasCommand({ AliasName: theirAlias }),
          new DeleteAliasCommand({ AliasName: unknownAlias }),
        ],
        [
          new UpdateAliasCommand({ AliasName: theirAlias, TargetKeyId: await newKey() }),
          new UpdateAliasCommand({ AliasName: unknownAlias, TargetKeyId: await newKey() }),
        ],
      ] as const) {
        const a = await failure(admin.send(mine as never));
        const b = await failure(admin.send(missing as never));
        expect(a.name).toBe('NotFoundException');
        expect({ ...a, message: a.message.replace(theirAlias, 'NAME') }).toEqual({
          ...b,
          message: b.message.replace(unknownAlias, 'NAME'),
        });
      }
      // Alias names are per tenant: the same name is free here, and theirs is untouched.
      const mine = await newKey();
      await admin.send(new CreateAliasCommand({ AliasName: theirAlias, TargetKeyId: mine }));
      expect((await other.send(new DescribeKeyCommand({ KeyId: theirAlias }))).KeyMetadata!.KeyId).toBe(
        theirs,
      );
      const listed = (await admin.send(new ListAliasesCommand({ KeyId: mine }))).Aliases!;
      expect(listed.filter((a) => a.AliasName === theirAlias).map((a) => a.TargetKeyId)).toEqual([mine]);
      expect(await tagsOf(mine)).toEqual([]);
      expect((await other.send(new ListResourceTagsCommand({ KeyId: theirs }))).Tags).toEqual([
        { TagKey: 'secret', TagValue: 'x' },
      ]);
    });
  });
});
