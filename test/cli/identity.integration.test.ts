// The identity and policy commands of the `keyhaven` CLI end to end against a real server process: a
// tenant, its principals and API keys, a secret printed once and then used as KEYHAVEN_TOKEN, a deny
// policy from a file that makes the CLI fail with AccessDenied, simulate, rollback, and revocation.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { runCli, type CliResult, type CliRunOptions } from './run-cli.js';

let server: TestServer;
let workDir: string;

beforeAll(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'keyhaven-cli-identity-'));
});

afterAll(async () => {
  await server?.dispose();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Runs the CLI as the bootstrap admin, or as whoever `token` is. */
const kh = (args: string[], options: CliRunOptions & { token?: string } = {}) =>
  runCli(args, {
    ...options,
    env: {
      KEYHAVEN_ENDPOINT: server.url,
      KEYHAVEN_TOKEN: options.token ?? server.token,
      ...options.env,
    },
  });

function ok(result: CliResult): CliResult {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return result;
}

async function json<T>(args: string[], options?: CliRunOptions & { token?: string }): Promise<T> {
  return JSON.parse(ok(await kh(['--json', ...args], options)).out) as T;
}

/** The value of a `Label: value` line of a details block. */
function detail(out: string, label: string): string {
  const match = new RegExp(`^${label}: +(\\S.*)$`, 'm').exec(out);
  if (!match) throw new Error(`no "${label}" line in:\n${out}`);
  return match[1]!;
}

const file = (name: string) => join(workDir, name);
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('a tenant walk-through', () => {
  it('tenant, principals, API key secret, encrypt, deny policy, simulate, rollback, revoke', async () => {
    // A tenant and two principals in it: one to manage keys, one to use them.
    const tenantOut = ok(await kh(['tenants', 'create', unique('walk'), '--max-keys', '50'])).out;
    const tenantId = detail(tenantOut, 'Tenant ID');
    expect(detail(tenantOut, 'Max keys')).toBe('50');
    expect(ok(await kh(['tenants', 'list'])).out).toMatch(new RegExp(`^${tenantId} `, 'm'));

    const ops = detail(
      ok(await kh(['principals', 'create', 'ops', '--tenant', tenantId, '--role', 'key-admin'])).out,
      'Principal ID',
    );
    const appOut = ok(
      await kh(['principals', 'create', 'app', '--tenant', tenantId, '--role', 'crypto-user']),
    ).out;
    const app = detail(appOut, 'Principal ID');
    expect(detail(appOut, 'Roles')).toBe('crypto-user');
    expect(detail(appOut, 'Tenant')).toBe(tenantId);

    // API keys: the secret is printed once, with a warning on stderr.
    const opsKey = ok(await kh(['api-keys', 'create', ops]));
    const opsSecret = detail(opsKey.out, 'Secret');
    expect(opsSecret).toMatch(/^khk_\S+$/);
    expect(opsKey.stderr).toContain('shown only this once');
    const appKey = ok(await kh(['api-keys', 'create', app]));
    const appSecret = detail(appKey.out, 'Secret');
    const appKeyId = detail(appKey.out, 'API key ID');
    const keyList = ok(await kh(['api-keys', 'list', app])).out;
    expect(keyList).toMatch(new RegExp(`^${appKeyId} .* active$`, 'm'));
    expect(keyList).not.toContain(appSecret);

    // The new secrets act as their principals: ops creates a key, app encrypts with it.
    const alias = `alias/${unique('walk')}`;
    ok(await kh(['keys', 'create', '--alias', alias], { token: opsSecret }));
    expect(ok(await kh(['tenants', 'keys', tenantId])).out).toContain(alias);
    const sealed = ok(await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'hello' }));
    const opened = ok(await kh(['decrypt'], { token: appSecret, input: sealed.stdout }));
    expect(opened.out).toBe('hello');
    expect(ok(await kh(['auth', 'verify', '--action', 'GenerateDataKey'], { token: appSecret })).out).toMatch(
      /^Access: +allowed$/m,
    );

    // A deny policy from a file, attached to app: the CLI's encrypt (a data key) is refused.
    const denyFile = file('deny-data-keys.json');
    writeFileSync(
      denyFile,
      JSON.stringify({
        statements: [
          {
            sid: 'no-data-keys',
            effect: 'deny',
            principals: [`principal:${app}`],
            actions: ['Generate*'],
            resources: ['*'],
          },
        ],
      }),
    );
    const policyOut = ok(
      await kh(['policies', 'create', 'no-data-keys', '--tenant', tenantId, '--document', denyFile]),
    ).out;
    const policyId = detail(policyOut, 'Policy ID');
    expect(detail(policyOut, 'Version')).toBe('1');
    expect(policyOut).toContain('"sid": "no-data-keys"');
    const attached = ok(await kh(['principals', 'attach-policies', app, policyId])).out;
    expect(detail(attached, 'Policies')).toBe(policyId);

    const refused = await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'hello' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: AccessDenied: .*denied by policy .*no-data-keys/m);
    expect(refused.stdout).toHaveLength(0);
    const verified = await kh(['auth', 'verify', '--action', 'GenerateDataKey', '--key-id', alias], {
      token: appSecret,
    });
    expect(verified.code).toBe(1);
    expect(detail(verified.out, 'Access')).toBe('denied');
    expect(detail(verified.out, 'Principal')).toBe(app);

    // simulate names the statement that decided.
    const simulated = ok(
      await kh([
        'policies',
        'simulate',
        '--principal',
        app,
        '--action',
        'GenerateDataKey',
        '--key-id',
        alias,
      ]),
    ).out;
    expect(detail(simulated, 'Decision')).toBe('deny');
    expect(detail(simulated, 'Decided by')).toBe(`policy ${policyId} v1, statement "no-data-keys"`);
    const simulatedJson = await json<{ decision: string; decidedBy: unknown }>([
      'policies',
      'simulate',
      '--principal',
      app,
      '--action',
      'Decrypt',
      '--key-id',
      alias,
    ]);
    expect(simulatedJson).toMatchObject({
      decision: 'allow',
      decidedBy: { policyId: 'builtin:crypto-user' },
    });

    // Version 2 (from stdin) lifts the deny; rollback to 1 brings it back as version 3.
    const lenient = JSON.stringify({
      statements: [
        {
          sid: 'no-deletion',
          effect: 'deny',
          principals: ['*'],
          actions: ['ScheduleKeyDeletion'],
          resources: ['*'],
        },
      ],
    });
    const v2 = ok(await kh(['policies', 'update', policyId, '--document', '-'], { input: lenient })).out;
    expect(detail(v2, 'Version')).toBe('2');
    ok(await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'again' }));

    const rolledBack = ok(await kh(['policies', 'rollback', policyId, '1'])).out;
    expect(detail(rolledBack, 'Version')).toBe('3');
    expect(rolledBack).toContain('"sid": "no-data-keys"');
    const again = await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'hello' });
    expect(again.stderr).toMatch(/^error: AccessDenied: /);
    const versions = ok(await kh(['policies', 'versions', policyId])).out;
    expect(versions.split('\n')[0]).toMatch(/^VERSION +EFFECTIVE +CREATED +STATEMENTS$/);
    expect(versions).toMatch(/^1 .* no-data-keys\n2 .* no-deletion\n3 .* no-data-keys\n$/m);
    expect(detail(ok(await kh(['policies', 'show', policyId])).out, 'Version')).toBe('3');
    expect(ok(await kh(['policies', 'list', '--tenant', tenantId])).out).toContain(policyId);

    // Attached policies cannot be deleted; detached ones can.
    const conflict = await kh(['policies', 'delete', policyId]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error: Conflict: /);
    ok(await kh(['principals', 'attach-policies', app, '--none']));
    ok(await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'free again' }));
    expect(ok(await kh(['policies', 'delete', policyId])).out).toBe(`deleted policy ${policyId}\n`);

    // Revoking the API key: the next request is refused as unauthenticated (401).
    ok(await kh(['api-keys', 'revoke', app, appKeyId]));
    const revoked = await kh(['encrypt', '--key-id', alias], { token: appSecret, input: 'hello' });
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/^error: Unauthenticated: /);
    expect(ok(await kh(['api-keys', 'list', app])).out).toMatch(new RegExp(`^${appKeyId} .* revoked `, 'm'));
    // Some 35 CLI processes, one after the other: well past the default timeout on a loaded machine.
  }, 180_000);
});

describe('keyhaven tenants, principals, access keys and key policies', () => {
  it('tenants show and update keep the quota not named', async () => {
    const { tenant } = await json<{ tenant: { tenantId: string } }>([
      'tenants',
      'create',
      unique('quota'),
      '--max-keys',
      '10',
      '--requests-per-second',
      '5',
    ]);
    const updated = await json<{ tenant: { name: string; quotas: object } }>([
      'tenants',
      'update',
      tenant.tenantId,
      '--name',
      'renamed',
      '--max-keys',
      '20',
    ]);
    expect(updated.tenant).toMatchObject({ name: 'renamed', quotas: { maxKeys: 20, requestsPerSecond: 5 } });
    const shown = ok(await kh(['tenants', 'show', tenant.tenantId])).out;
    expect(detail(shown, 'Name')).toBe('renamed');
    expect(detail(shown, 'Requests/second')).toBe('5');

    const { policy } = await json<{ policy: { policyId: string } }>(
      ['policies', 'create', 'tenant-wide', '--tenant', tenant.tenantId, '--document', '-'],
      {
        input: JSON.stringify({
          statements: [{ effect: 'deny', principals: ['*'], actions: ['DeleteTenant'], resources: ['*'] }],
        }),
      },
    );
    const withPolicy = await json<{ tenant: { policyIds: string[] } }>([
      'tenants',
      'update',
      tenant.tenantId,
      '--policy',
      policy.policyId,
    ]);
    expect(withPolicy.tenant.policyIds).toEqual([policy.policyId]);
    const without = await json<{ tenant: { policyIds: string[] } }>([
      'tenants',
      'update',
      tenant.tenantId,
      '--no-policy',
    ]);
    expect(without.tenant.policyIds).toEqual([]);
  });

  it('principals list, show, update, delete', async () => {
    const { tenant } = await json<{ tenant: { tenantId: string } }>(['tenants', 'create', unique('people')]);
    const created = await json<{ principal: { principalId: string; attributes: object } }>([
      'principals',
      'create',
      'alice',
      '--type',
      'user',
      '--tenant',
      tenant.tenantId,
      '--role',
      'auditor',
      '--attribute',
      'team=red',
    ]);
    expect(created.principal.attributes).toEqual({ team: 'red' });
    const id = created.principal.principalId;
    const table = ok(await kh(['principals', 'list', '--tenant', tenant.tenantId])).out;
    expect(table.split('\n')[0]).toMatch(/^PRINCIPAL ID +NAME +TYPE +TENANT +ROLES +POLICIES +CREATED$/);
    expect(table).toMatch(new RegExp(`^${id} +alice +user `, 'm'));

    const updated = await json<{ principal: { name: string; roles: string[]; attributes: object } }>([
      'principals',
      'update',
      id,
      '--name',
      'alice2',
      '--role',
      'crypto-user',
      '--role',
      'auditor',
      '--no-attribute',
    ]);
    expect(updated.principal).toMatchObject({
      name: 'alice2',
      roles: ['crypto-user', 'auditor'],
      attributes: {},
    });
    expect(detail(ok(await kh(['principals', 'show', id])).out, 'Name')).toBe('alice2');

    ok(await kh(['principals', 'delete', id]));
    const gone = await kh(['principals', 'show', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: NotFound: /);
  });

  it('access-keys create prints the secret once; list and delete', async () => {
    const { principal } = await json<{ principal: { principalId: string } }>([
      'principals',
      'create',
      'aws-tool',
    ]);
    const created = ok(await kh(['access-keys', 'create', principal.principalId]));
    const accessKeyId = detail(created.out, 'Access key ID');
    expect(accessKeyId).toMatch(/^KHAK[0-9A-F]{20}$/);
    expect(detail(created.out, 'Secret access key').length).toBeGreaterThanOrEqual(40);
    expect(created.stderr).toContain('shown only this once');
    expect(ok(await kh(['access-keys', 'list', principal.principalId])).out).toMatch(
      new RegExp(`^${accessKeyId} .* active$`, 'm'),
    );
    ok(await kh(['access-keys', 'delete', principal.principalId, accessKeyId]));
    expect(ok(await kh(['access-keys', 'list', principal.principalId])).out).not.toMatch(
      new RegExp(`^${accessKeyId} .* active$`, 'm'),
    );
  });

  it('keys policy get shows version 0, put writes one, get --out writes the bare document', async () => {
    const { key } = await json<{ key: { keyId: string } }>(['keys', 'create']);
    const empty = ok(await kh(['keys', 'policy', 'get', key.keyId])).out;
    expect(detail(empty, 'Version')).toMatch(/^0 /);
    const document = {
      statements: [{ sid: 'k', effect: 'deny', principals: ['*'], actions: ['Decrypt'], resources: ['*'] }],
    };
    writeFileSync(file('key-policy.json'), JSON.stringify(document));
    const put = await json<{ keyId: string; version: number; document: unknown }>([
      'keys',
      'policy',
      'put',
      key.keyId,
      '--document',
      file('key-policy.json'),
    ]);
    expect(put).toEqual({ keyId: key.keyId, version: 1, document });
    ok(await kh(['keys', 'policy', 'get', key.keyId, '--out', file('key-policy-out.json')]));
    expect(JSON.parse(readFileSync(file('key-policy-out.json'), 'utf8'))).toEqual(document);
  });

  it('a malformed document fails before or at the server, naming the problem', async () => {
    const syntax = await kh(['policies', 'create', 'bad', '--document', '-'], { input: '{"statements": [' });
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/^error: ValidationError: stdin is not valid JSON at line 1, column \d+/);
    const shape = await kh(['policies', 'create', 'bad', '--document', '-'], {
      input: '{"statements": [{"effect": "maybe"}]}',
    });
    expect(shape.code).toBe(1);
    expect(shape.stderr).toMatch(/^error: ValidationError: .*effect/);
    const missing = await kh(['policies', 'create', 'bad']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--document <file>'/);
  });
});

describe('--help of the identity command groups', () => {
  it.each([
    [['tenants'], ['create', 'list', 'show', 'update', 'keys']],
    [['principals'], ['create', 'list', 'show', 'update', 'delete', 'attach-policies']],
    [['api-keys'], ['create', 'list', 'revoke']],
    [['access-keys'], ['create', 'list', 'delete']],
    [['policies'], ['create', 'list', 'show', 'update', 'delete', 'versions', 'rollback', 'simulate']],
    [
      ['keys', 'policy'],
      ['get', 'put'],
    ],
    [['auth'], ['verify']],
  ])('keyhaven %s --help lists its subcommands', async (group, subcommands) => {
    const result = await runCli([...group, '--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`Usage: keyhaven ${group.join(' ')}`);
    const commands = result.out.slice(result.out.indexOf('Commands:'));
    for (const name of subcommands) expect(commands).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });
});
