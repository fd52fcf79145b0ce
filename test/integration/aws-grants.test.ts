// Grants through the real @aws-sdk/client-kms against a real server: a grant lets a principal with
// no role use a key for its operations under its constraints, and stops at once when retired or
// revoked; an explicit deny in a key policy beats it; tokens, names, paging, tenants and audit.
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  paginateListGrants,
  type GrantListEntry,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, clientFor, failure } from './aws-fixtures.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

interface Party {
  actor: Actor;
  client: KMSClient;
  arn: string;
}

describe('AWS KMS grants, through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let system: Api;
  let tenantId: string;
  let account: string;
  let admin: Party;
  let grantee: Party;
  let retirer: Party;
  let keyAdmin: Party;
  const clients: KMSClient[] = [];

  async function party(tenant: string, roles: string[]): Promise<Party> {
    const actor = await createActor(system, tenant, roles);
    const client = clientFor(server, await accessKeyOf(system, actor.principal.principalId));
    clients.push(client);
    return { actor, client, arn: `arn:aws:iam::${account}:role/${actor.principal.name}` };
  }

  const encrypt = (who: Party, keyId: string, context?: Record<string, string>) =>
    who.client.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('granted'),
        ...(context ? { EncryptionContext: context } : {}),
      }),
    );

  const grantOn = (keyId: string, input: Partial<ConstructorParameters<typeof CreateGrantCommand>[0]> = {}) =>
    admin.client.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: grantee.arn,
        Operations: ['Encrypt', 'Decrypt'],
        ...input,
      }),
    );

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    const tenantAdmin = await createActor(system, tenantId, ['admin']);
    const adminClient = clientFor(server, await accessKeyOf(system, tenantAdmin.principal.principalId));
    clients.push(adminClient);
    account = (await adminClient.send(new CreateKeyCommand({}))).KeyMetadata!.AWSAccountId!;
    admin = {
      actor: tenantAdmin,
      client: adminClient,
      arn: `arn:aws:iam::${account}:role/${tenantAdmin.principal.name}`,
    };
    grantee = await party(tenantId, []);
    retirer = await party(tenantId, []);
    keyAdmin = await party(tenantId, ['key-admin']);
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await server?.dispose();
  });

  it('lets a principal with no role use a key exactly as its grant says, and no further', async () => {
    const key = await createKey(admin.actor.api);
    expect(await failure(encrypt(grantee, key.keyId, { app: 'x' }))).toMatchObject({
      name: 'AccessDeniedException',
    });
    const created = await grantOn(key.keyId, {
      RetiringPrincipal: retirer.arn,
      Constraints: { EncryptionContextSubset: { app: 'x' } },
    });
    expect(created.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(created.GrantToken).toBeTruthy();

    const sealed = await encrypt(grantee, key.keyId, { app: 'x', extra: 'ok' });
    const opened = await grantee.client.send(
      new DecryptCommand({
        CiphertextBlob: sealed.CiphertextBlob,
        EncryptionContext: { app: 'x', extra: 'ok' },
      }),
    );
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('granted');
    for (const context of [undefined, { app: 'y' }, { other: 'x' }] as (
      Record<string, string> | undefined
    )[]) {
      expect(await failure(encrypt(grantee, key.keyId, context)), JSON.stringify(context)).toMatchObject({
        name: 'AccessDeniedException',
      });
    }
    // Operations the grant does not include, on this key or another.
    expect(
      await failure(
        grantee.client.send(
          new GenerateDataKeyCommand({
            KeyId: key.keyId,
            KeySpec: 'AES_256',
            EncryptionContext: { app: 'x' },
          }),
        ),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
    expect(await failure(grantee.client.send(new DescribeKeyCommand({ KeyId: key.keyId })))).toMatchObject({
      name: 'AccessDeniedException',
    });
    const other = await createKey(admin.actor.api);
    expect(await failure(encrypt(grantee, other.keyId, { app: 'x' }))).toMatchObject({
      name: 'AccessDeniedException',
    });
    // Neither can the grantee, nor anyone else, give itself more.
    expect(
      await failure(
        grantee.client.send(
          new CreateGrantCommand({
            KeyId: key.keyId,
            GranteePrincipal: grantee.arn,
            Operations: ['Encrypt'],
          }),
        ),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('refuses Sign on a signing key without a Sign grant, and a Sign grant on a symmetric key', async () => {
    const signing = await createKey(admin.actor.api, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    await grantOn(signing.keyId, { Operations: ['Sign'] });
    // Sign is not in the AWS dialect yet: REST asks the same AccessControl, grants included.
    const sign = () =>
      grantee.actor.api.post('/v1/sign', {
        keyId: signing.keyId,
        message: b64('m'),
        algorithm: 'ECDSA_SHA_256',
      });
    expect((await sign()).status).toBe(200);
    const verifyOnly = await createKey(admin.actor.api, {
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
    });
    await grantOn(verifyOnly.keyId, { Operations: ['Verify'] });
    expectError(
      await grantee.actor.api.post('/v1/sign', {
        keyId: verifyOnly.keyId,
        message: b64('m'),
        algorithm: 'ECDSA_SHA_256',
      }),
      403,
      'AccessDenied',
    );
    const symmetric = await createKey(admin.actor.api);
    expect(await failure(grantOn(symmetric.keyId, { Operations: ['Sign'] }))).toMatchObject({
      name: 'ValidationException',
      status: 400,
    });
    expect(await failure(grantOn(signing.keyId, { Operations: ['GenerateDataKey'] }))).toMatchObject({
      name: 'ValidationException',
    });
    expect(
      await failure(
        grantOn(symmetric.keyId, {
          Constraints: { EncryptionContextSubset: { a: '1' }, EncryptionContextEquals: { a: '1' } },
        }),
      ),
    ).toMatchObject({ name: 'ValidationException' });
    expect(
      await failure(
        grantOn(symmetric.keyId, { GranteePrincipal: `arn:aws:iam::${account}:role/nobody-${Date.now()}` }),
      ),
    ).toMatchObject({ name: 'ValidationException' });
    expect(
      await failure(grantOn(symmetric.keyId, { GranteePrincipal: 'arn:aws:iam::000000000000:role/x' })),
    ).toMatchObject({
      name: 'ValidationException',
    });
    // The grantee is a service principal (role/): as user/ it names nobody.
    expect(
      await failure(grantOn(symmetric.keyId, { GranteePrincipal: grantee.arn.replace(':role/', ':user/') })),
    ).toMatchObject({ name: 'ValidationException' });
    // Only symmetric encryption takes a context: a constraint elsewhere would be ignored, so refused.
    expect(
      await failure(
        grantOn(signing.keyId, {
          Operations: ['Sign'],
          Constraints: { EncryptionContextSubset: { a: '1' } },
        }),
      ),
    ).toMatchObject({ name: 'ValidationException' });
  });

  it('stops a grant at once when its retiring principal retires it, and when it is revoked', async () => {
    const key = await createKey(admin.actor.api);
    const first = await grantOn(key.keyId, { RetiringPrincipal: retirer.arn });
    await encrypt(grantee, key.keyId);
    await retirer.client.send(new RetireGrantCommand({ KeyId: key.keyId, GrantId: first.GrantId }));
    expect(await failure(encrypt(grantee, key.keyId))).toMatchObject({ name: 'AccessDeniedException' });
    // Retiring it again: it is gone.
    expect(
      await failure(
        retirer.client.send(new RetireGrantCommand({ KeyId: key.keyId, GrantId: first.GrantId })),
      ),
    ).toMatchObject({ name: 'NotFoundException' });

    const second = await grantOn(key.keyId);
    await encrypt(grantee, key.keyId);
    // The grantee cannot retire a grant without RetireGrant, nor anyone revoke without RevokeGrant.
    expect(
      await failure(grantee.client.send(new RetireGrantCommand({ GrantToken: second.GrantToken }))),
    ).toMatchObject({ name: 'AccessDeniedException' });
    expect(
      await failure(
        grantee.client.send(new RevokeGrantCommand({ KeyId: key.keyId, GrantId: second.GrantId })),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
    await keyAdmin.client.send(new RevokeGrantCommand({ KeyId: key.keyId, GrantId: second.GrantId }));
    expect(await failure(encrypt(grantee, key.keyId))).toMatchObject({ name: 'AccessDeniedException' });

    // A grantee whose grant includes RetireGrant retires that grant by its token.
    const third = await grantOn(key.keyId, { Operations: ['Encrypt', 'RetireGrant'] });
    await encrypt(grantee, key.keyId);
    await grantee.client.send(new RetireGrantCommand({ GrantToken: third.GrantToken }));
    expect(await failure(encrypt(grantee, key.keyId))).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('lets a grant with CreateGrant create only grants within it', async () => {
    const key = await createKey(admin.actor.api);
    await grantOn(key.keyId, {
      Operations: ['Encrypt', 'CreateGrant'],
      Constraints: { EncryptionContextSubset: { app: 'x' } },
    });
    const child = (input: {
      Operations: ('Encrypt' | 'Decrypt')[];
      Constraints?: Record<string, Record<string, string>>;
    }) =>
      grantee.client.send(
        new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: retirer.arn, ...input }),
      );
    await child({
      Operations: ['Encrypt'],
      Constraints: { EncryptionContextSubset: { app: 'x', team: 't' } },
    });
    await encrypt(retirer, key.keyId, { app: 'x', team: 't' });
    expect(await failure(encrypt(retirer, key.keyId, { app: 'x' }))).toMatchObject({
      name: 'AccessDeniedException',
    });
    for (const wider of [
      { Operations: ['Decrypt' as const], Constraints: { EncryptionContextSubset: { app: 'x' } } },
      { Operations: ['Encrypt' as const] },
      { Operations: ['Encrypt' as const], Constraints: { EncryptionContextSubset: { app: 'y' } } },
    ]) {
      expect(await failure(child(wider)), JSON.stringify(wider)).toMatchObject({
        name: 'AccessDeniedException',
      });
    }
  });

  it('lets an explicit deny in the key policy win over a grant', async () => {
    const key = await createKey(admin.actor.api);
    await grantOn(key.keyId);
    await encrypt(grantee, key.keyId);
    const put = await admin.actor.api.put(`/v1/keys/${key.keyId}/policy`, {
      document: {
        statements: [
          {
            sid: 'no-grantee',
            effect: 'deny',
            principals: [`principal:${grantee.actor.principal.principalId}`],
            actions: ['Encrypt'],
            resources: ['*'],
          },
        ],
      },
    });
    expect(put.status, put.text).toBe(200);
    expect(await failure(encrypt(grantee, key.keyId))).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('accepts its own grant tokens and refuses malformed ones with InvalidGrantTokenException', async () => {
    const key = await createKey(admin.actor.api);
    const { GrantToken } = await grantOn(key.keyId);
    const crypto = await party(tenantId, ['crypto-user']);
    await crypto.client.send(
      new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x'), GrantTokens: [GrantToken!] }),
    );
    await crypto.client.send(
      new GenerateDataKeyWithoutPlaintextCommand({
        KeyId: key.keyId,
        KeySpec: 'AES_256',
        GrantTokens: [GrantToken!],
      }),
    );
    for (const tokens of [['not-a-grant-token'], [`${GrantToken!.slice(0, -2)}`]]) {
      expect(
        await failure(
          crypto.client.send(
            new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x'), GrantTokens: tokens }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidGrantTokenException', status: 400 });
    }
    expect(
      await failure(
        crypto.client.send(
          new EncryptCommand({
            KeyId: key.keyId,
            Plaintext: Buffer.from('x'),
            GrantTokens: Array(11).fill(GrantToken!),
          }),
        ),
      ),
    ).toMatchObject({ name: 'ValidationException' });
    expect(await failure(admin.client.send(new RetireGrantCommand({ GrantToken: 'forged' })))).toMatchObject({
      name: 'InvalidGrantTokenException',
    });
  });

  it('answers the same GrantId for a retry with the same Name and parameters, with a fresh token', async () => {
    const key = await createKey(admin.actor.api);
    const first = await grantOn(key.keyId, { Name: 'retry-me', Operations: ['Encrypt', 'Decrypt'] });
    const again = await grantOn(key.keyId, { Name: 'retry-me', Operations: ['Decrypt', 'Encrypt'] });
    expect(again.GrantId).toBe(first.GrantId);
    expect(again.GrantToken).not.toBe(first.GrantToken);
    const different = await grantOn(key.keyId, { Name: 'retry-me', Operations: ['Encrypt'] });
    expect(different.GrantId).not.toBe(first.GrantId);
    const listed = await admin.client.send(new ListGrantsCommand({ KeyId: key.keyId }));
    expect(listed.Grants).toHaveLength(2);
  });

  it('answers DryRun with DryRunOperationException and creates nothing', async () => {
    const key = await createKey(admin.actor.api);
    expect(await failure(grantOn(key.keyId, { DryRun: true }))).toMatchObject({
      name: 'DryRunOperationException',
      status: 412,
    });
    expect((await admin.client.send(new ListGrantsCommand({ KeyId: key.keyId }))).Grants).toEqual([]);
    expect(
      await failure(
        grantee.client.send(
          new CreateGrantCommand({
            KeyId: key.keyId,
            GranteePrincipal: grantee.arn,
            Operations: ['Encrypt'],
            DryRun: true,
          }),
        ),
      ),
    ).toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('lists grants as AWS GrantListEntry, filtered and paged by paginateListGrants', async () => {
    const key = await createKey(admin.actor.api);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (
          await grantOn(key.keyId, {
            Name: `g${i}`,
            Constraints: { EncryptionContextEquals: { n: String(i) } },
          })
        ).GrantId!,
      );
    }
    const seen: GrantListEntry[] = [];
    const pages: number[] = [];
    for await (const page of paginateListGrants(
      { client: admin.client, pageSize: 2 },
      { KeyId: key.keyId },
    )) {
      pages.push(page.Grants!.length);
      seen.push(...page.Grants!);
    }
    expect(pages).toEqual([2, 2, 1]);
    expect(seen.map((g) => g.GrantId).sort()).toEqual([...ids].sort());
    const entry = seen.find((g) => g.Name === 'g3')!;
    expect(entry).toMatchObject({
      KeyId: `arn:aws:kms:us-east-1:${account}:key/${key.keyId}`,
      GranteePrincipal: grantee.arn,
      IssuingAccount: `arn:aws:iam::${account}:root`,
      Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextEquals: { n: '3' } },
    });
    expect(Math.abs(entry.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    const one = await admin.client.send(new ListGrantsCommand({ KeyId: key.keyId, GrantId: ids[1] }));
    expect(one.Grants!.map((g) => g.GrantId)).toEqual([ids[1]]);
    const byGrantee = await admin.client.send(
      new ListGrantsCommand({ KeyId: key.keyId, GranteePrincipal: retirer.arn }),
    );
    expect(byGrantee.Grants).toEqual([]);
    expect(
      await failure(admin.client.send(new ListGrantsCommand({ KeyId: key.keyId, Marker: 'bogus' }))),
    ).toMatchObject({
      name: 'InvalidMarkerException',
    });
    expect(
      await failure(admin.client.send(new ListGrantsCommand({ KeyId: key.keyId, Limit: 101 }))),
    ).toMatchObject({
      name: 'ValidationException',
    });
    // The key-admin lists and revokes grants but cannot create one; a principal with no role lists nothing.
    expect((await keyAdmin.client.send(new ListGrantsCommand({ KeyId: key.keyId }))).Grants).toHaveLength(5);
    expect(
      await failure(
        keyAdmin.client.send(
          new CreateGrantCommand({
            KeyId: key.keyId,
            GranteePrincipal: keyAdmin.arn,
            Operations: ['Encrypt'],
          }),
        ),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
    expect(await failure(grantee.client.send(new ListGrantsCommand({ KeyId: key.keyId })))).toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('lists the grants a principal may retire', async () => {
    const key = await createKey(admin.actor.api);
    const retiree = await party(tenantId, []);
    const created = await grantOn(key.keyId, { RetiringPrincipal: retiree.arn });
    await grantOn(key.keyId);
    const listed = await admin.client.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: retiree.arn }),
    );
    expect(listed.Grants!.map((g) => g.GrantId)).toEqual([created.GrantId]);
    expect(listed.Grants![0]).toMatchObject({
      RetiringPrincipal: retiree.arn,
      GranteePrincipal: grantee.arn,
    });
    expect(listed.Truncated).toBe(false);
  });

  it("answers another tenant's grant id as it answers a random one", async () => {
    const key = await createKey(admin.actor.api);
    const { GrantId, GrantToken } = await grantOn(key.keyId);
    const otherTenant = (await createTenant(system)).tenantId;
    const stranger = await createActor(system, otherTenant, ['admin']);
    const client = clientFor(server, await accessKeyOf(system, stranger.principal.principalId));
    clients.push(client);
    const own = await createKey(stranger.api);
    const random = 'ab'.repeat(32);
    const answers = [];
    for (const grantId of [GrantId!, random]) {
      const revoked = await failure(
        client.send(new RevokeGrantCommand({ KeyId: own.keyId, GrantId: grantId })),
      );
      const retired = await failure(
        client.send(new RetireGrantCommand({ KeyId: own.keyId, GrantId: grantId })),
      );
      answers.push([revoked.name, retired.name, revoked.message.replace(grantId, '<id>')]);
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]![0]).toBe('NotFoundException');
    expect(await failure(client.send(new RetireGrantCommand({ GrantToken })))).toMatchObject({
      name: 'NotFoundException',
    });
    // The grant still works in its own tenant.
    await encrypt(grantee, key.keyId);
  });

  it('records grant-allowed requests as allowed, and the decision names the grant', async () => {
    const key = await createKey(admin.actor.api);
    const { GrantId } = await grantOn(key.keyId);
    await encrypt(grantee, key.keyId);
    const records = (
      await admin.actor.api.get<{ records: AuditRecord[] }>(
        `/v1/logs?principalId=${grantee.actor.principal.principalId}&limit=1000`,
      )
    ).body.records;
    expect(
      records.find((r) => r.action === 'Encrypt' && r.keyId === key.keyId && r.result === 'allow'),
    ).toBeDefined();
    const verified = await grantee.actor.api.post<{
      allowed: boolean;
      decidedBy: { policyId: string } | null;
    }>('/v1/auth/verify', { action: 'Encrypt', keyId: key.keyId });
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body).toMatchObject({ allowed: true, decidedBy: { policyId: `grant:${GrantId}` } });
    const simulated = await admin.actor.api.post<{
      decision: string;
      decidedBy: { policyId: string } | null;
    }>('/v1/simulate', {
      principalId: grantee.actor.principal.principalId,
      action: 'Sign',
      keyId: key.keyId,
    });
    expect(simulated.body).toMatchObject({ decision: 'deny', decidedBy: null });
  });
});
