// The CLI without a server: help texts, usage errors (exit 2), failures (exit 1, "error: <code>: ...",
// no stack traces). Runs the built binary: `npm run build` first.
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const COMMANDS = [
  [],
  ['keys'],
  ['keys', 'create'],
  ['keys', 'list'],
  ['keys', 'describe'],
  ['keys', 'update'],
  ['keys', 'enable'],
  ['keys', 'disable'],
  ['keys', 'rotate'],
  ['keys', 'delete'],
  ['keys', 'cancel-deletion'],
  ['keys', 'versions'],
  ['keys', 'public-key'],
  ['keys', 'usage'],
  ['keys', 'import'],
  ['keys', 'export'],
  ['keys', 'backup'],
  ['keys', 'restore'],
  ['aliases'],
  ['aliases', 'list'],
  ['aliases', 'set'],
  ['aliases', 'delete'],
  ['encrypt'],
  ['decrypt'],
  ['sign'],
  ['verify'],
  ['datakey'],
  ['datakey-pair'],
  ['secrets'],
  ...['encrypt', 'decrypt', 'rotate', 'check'].map((c) => ['secrets', c]),
  ['random'],
  ['tenants'],
  ...['create', 'list', 'show', 'update', 'keys'].map((c) => ['tenants', c]),
  ['principals'],
  ...['create', 'list', 'show', 'update', 'delete', 'attach-policies'].map((c) => ['principals', c]),
  ['api-keys'],
  ...['create', 'list', 'revoke'].map((c) => ['api-keys', c]),
  ['access-keys'],
  ...['create', 'list', 'delete'].map((c) => ['access-keys', c]),
  ['policies'],
  ...['create', 'list', 'show', 'update', 'delete', 'versions', 'rollback', 'simulate'].map((c) => [
    'policies',
    c,
  ]),
  ['keys', 'policy'],
  ['keys', 'policy', 'get'],
  ['keys', 'policy', 'put'],
  ['auth'],
  ['auth', 'verify'],
  ['status'],
  ['server'],
];

const offline = { KEYHAVEN_ENDPOINT: 'http://127.0.0.1:1', KEYHAVEN_TOKEN: 'khk_offline' };

describe('keyhaven --help', () => {
  it.each(COMMANDS.map((command) => [command.join(' ') || '(top level)', command]))(
    '%s --help explains itself and exits 0',
    async (_name, command) => {
      const result = await runCli([...(command as string[]), '--help']);
      expect(result.code).toBe(0);
      expect(result.out).toContain(`Usage: keyhaven ${(command as string[]).join(' ')}`.trimEnd());
      // A description line after the usage line, not just an option list.
      expect(result.out.split('\n')[2]!.length).toBeGreaterThan(10);
    },
  );

  it('lists every command group at the top level', async () => {
    const { out } = await runCli(['--help']);
    for (const name of [
      'keys',
      'aliases',
      'encrypt',
      'decrypt',
      'sign',
      'verify',
      'datakey',
      'secrets',
      'random',
      'tenants',
      'principals',
      'api-keys',
      'access-keys',
      'policies',
      'auth',
      'server',
    ]) {
      expect(out).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
    expect(out).toContain('KEYHAVEN_TOKEN');
  });

  it('describes the TLS options and their variables', async () => {
    const { out } = await runCli(['--help']);
    // One entry per option, its wrapped description lines joined.
    const entries = out.split(/\n(?= {2}-)/).map((entry) => entry.replace(/\s+/g, ' ').trim());
    for (const [option, variable] of [
      ['--ca <file>', 'KEYHAVEN_CA_CERT'],
      ['--cert <file>', 'KEYHAVEN_CLIENT_CERT'],
      ['--key <file>', 'KEYHAVEN_CLIENT_KEY'],
    ]) {
      const entry = entries.find((e) => e.startsWith(`${option} `));
      expect(entry).toMatch(new RegExp(`^${option} PEM .*\\(env: ${variable}\\)`));
      // And in the Environment section.
      expect(out).toMatch(new RegExp(`^  ${variable} +file: `, 'm'));
    }
  });

  it('prints the version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['keys', 'list', '--bogus'], /unknown option '--bogus'/],
    [['encrypt'], /required option '--key-id <keyId>' not specified/],
    [['random', '--bytes', 'lots'], /expected a whole number/],
    [['encrypt', '--key-id', 'k', '--context', 'novalue'], /expected key=value/],
    [['keys', 'create', '--key-spec', 'AES_999'], /Allowed choices are/],
    [['keys', 'delete', 'k', '--pending-window-days', '3'], /expected 7\.\.30/],
    [['policies', 'rollback', 'p', 'latest'], /expected a whole number/],
    [['principals', 'attach-policies', 'p'], /name the policies to attach, or --none/],
    [['principals', 'attach-policies', 'p', 'q', '--none'], /not both/],
    [['principals', 'create', 'x', '--type', 'robot'], /Allowed choices are/],
    [['api-keys', 'create', 'p', '--expires-at', 'soon'], /expected an ISO-8601 date/],
  ])('keyhaven %s', async (args, message) => {
    const result = await runCli(args, { env: offline });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('an unreadable --ca, --cert or --key file is a usage error naming the file', async () => {
    const tls = { ...offline, KEYHAVEN_ENDPOINT: 'https://127.0.0.1:1' };
    for (const option of ['--ca', '--cert', '--key']) {
      const result = await runCli([option, '/nonexistent/tls.pem', 'keys', 'list'], { env: tls });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`cannot read the ${option} file /nonexistent/tls.pem (ENOENT)`);
    }
    const fromEnv = await runCli(['keys', 'list'], {
      env: { ...tls, KEYHAVEN_CA_CERT: '/nonexistent/ca.pem' },
    });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('/nonexistent/ca.pem');
  });

  it('--cert without --key, and TLS files with an http:// endpoint, are usage errors', async () => {
    const cli = process.argv[1]!; // any readable file: it is refused before being parsed
    const https = { ...offline, KEYHAVEN_ENDPOINT: 'https://127.0.0.1:1' };
    const alone = await runCli(['--cert', cli, 'keys', 'list'], { env: https });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/needs its private key/);
    const plain = await runCli(['--ca', cli, 'keys', 'list'], { env: offline });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/need an https:\/\/ endpoint/);
  });

  it('a missing token is a usage error with a hint', async () => {
    const result = await runCli(['keys', 'list'], { env: { KEYHAVEN_ENDPOINT: 'http://127.0.0.1:1' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('KEYHAVEN_TOKEN');
  });
});

describe('failures exit 1 with "error: <code>: <message>"', () => {
  it('an unreachable server is Unavailable', async () => {
    const result = await runCli(['keys', 'list'], { env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Unavailable: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('decrypting something that is not an envelope fails before any server call', async () => {
    const result = await runCli(['decrypt'], { env: offline, input: 'just some text' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: InvalidCiphertext: input is not a Keyhaven encrypted file (bad magic)\n',
    );
    expect(result.stdout).toHaveLength(0);
  });

  it('a missing input file is an IOError', async () => {
    const result = await runCli(['encrypt', '--key-id', 'k', '--in', '/nonexistent/file'], { env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: IOError: cannot read \/nonexistent\/file: no such file or directory/,
    );
  });
});
