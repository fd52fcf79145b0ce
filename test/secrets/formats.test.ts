// The file formats of @keyhaven/secrets without a KMS: values read by name, replacements written in
// each value's own style with every other byte kept, selection patterns, tokens, and `check`.
import { describe, expect, it } from 'vitest';
import {
  compilePattern,
  findPlaintextSecrets,
  formatOfPath,
  formatToken,
  parseSecretDocument,
  parseToken,
  SecretsError,
  selects,
  type SecretFormat,
} from '../../packages/secrets/src/index.js';
import { DOTENV, DOTENV_VALUES, JSON_TEXT, JSON_VALUES, YAML_TEXT, YAML_VALUES } from './fixtures.js';

const valuesOf = (text: string, format: SecretFormat) =>
  Object.fromEntries(parseSecretDocument(text, format).entries.map((entry) => [entry.name, entry.value]));

const cases: [SecretFormat, string, Record<string, string>][] = [
  ['dotenv', DOTENV, DOTENV_VALUES],
  ['json', JSON_TEXT, JSON_VALUES],
  ['yaml', YAML_TEXT, YAML_VALUES],
];

describe.each(cases)('%s files', (format, text, values) => {
  it('reads every string value by name, decoded', () => {
    expect(valuesOf(text, format)).toEqual(values);
  });

  it('writes replacements in place and keeps every other byte', () => {
    const names = Object.keys(values);
    const token = (i: number) => `ENC[kh1:${Buffer.from(`ciphertext ${i}`).toString('base64')}]`;
    const replaced = parseSecretDocument(text, format).render(
      new Map(names.map((name, i) => [name, token(i)])),
    );
    expect(valuesOf(replaced, format)).toEqual(Object.fromEntries(names.map((name, i) => [name, token(i)])));
    // Comments survive; then writing the original values back gives the same values again.
    const comments = (text.match(/(#|\/\/|\/\*)[^\n]*/g) ?? []).filter(
      (comment) => !Object.values(values).some((value) => value.includes(comment.replace(/['"]$/, ''))),
    );
    expect(comments.length).toBeGreaterThan(0);
    for (const comment of comments) expect(replaced).toContain(comment.trim());
    const back = parseSecretDocument(replaced, format).render(new Map(Object.entries(values)));
    expect(valuesOf(back, format)).toEqual(values);
  });

  it('keeps the file byte for byte when only one value changes and back', () => {
    const [name, value] = Object.entries(values).find(([, v]) => v !== '')!;
    const once = parseSecretDocument(text, format).render(new Map([[name, 'ENC[kh1:AAAA]']]));
    expect(once).not.toBe(text);
    expect(once.length).toBeLessThan(text.length + 20);
    expect(valuesOf(once, format)[name]).toBe('ENC[kh1:AAAA]');
    expect(parseSecretDocument(once, format).render(new Map([[name, value]]))).toBe(text);
  });
});

describe('format details', () => {
  it('writes a .env value that needs quoting in double quotes, with escapes', () => {
    const text = parseSecretDocument('A=x\nB=y\n', 'dotenv').render(new Map([['A', 'two\nlines "q" \\ #x']]));
    expect(text).toBe('A="two\nlines \\"q\\" \\\\ #x"\nB=y\n');
    expect(valuesOf(text, 'dotenv').A).toBe('two\nlines "q" \\ #x');
  });

  it('decodes \\n escapes in double quotes and keeps single quotes literal', () => {
    expect(valuesOf(`A="a\\nb"\nB='a\\nb'\n`, 'dotenv')).toEqual({ A: 'a\nb', B: 'a\\nb' });
  });

  it('writes YAML block scalars as block scalars, and plain values that need quotes quoted', () => {
    const doc = parseSecretDocument(YAML_TEXT, 'yaml');
    const out = doc.render(
      new Map([
        ['certificate', 'ENC[kh1:AAAA]'],
        ['db.user', 'needs: quotes # here'],
      ]),
    );
    expect(out).toContain('certificate: |-\n  ENC[kh1:AAAA]\nmotto');
    expect(out).toContain('user: "needs: quotes # here" # the login');
    const back = parseSecretDocument(out, 'yaml').render(
      new Map([['certificate', YAML_VALUES.certificate!]]),
    );
    expect(back).toContain(`certificate: |\n  -----BEGIN CERTIFICATE-----\n  MIIB ünïcødé\n`);
  });

  it('refuses malformed files and duplicate names with a ParseError naming the variable', () => {
    const error = (text: string, format: SecretFormat) => {
      try {
        parseSecretDocument(text, format);
      } catch (e) {
        return e as SecretsError;
      }
      throw new Error('parsed');
    };
    expect(error('A=1\nA=2\n', 'dotenv')).toMatchObject({ code: 'ParseError', variable: 'A' });
    expect(error('A="open\n', 'dotenv')).toMatchObject({ code: 'ParseError', variable: 'A' });
    expect(error('{"a": ', 'json').code).toBe('ParseError');
    expect(error('a: [1,\n', 'yaml').code).toBe('ParseError');
  });

  it('tells the format from the file name', () => {
    expect(['.env', '.env.production', 'app.env', 'a.json', 'b.yml', 'c.yaml'].map(formatOfPath)).toEqual([
      'dotenv',
      'dotenv',
      'dotenv',
      'json',
      'yaml',
      'yaml',
    ]);
    expect(() => formatOfPath('notes.txt')).toThrow(SecretsError);
  });
});

describe('tokens and selection', () => {
  it('round-trips both token forms and refuses malformed ones', () => {
    const bytes = Buffer.from([1, 2, 3, 250, 251]);
    expect(formatToken('name', bytes)).toBe(`ENC[kh1:${bytes.toString('base64')}]`);
    expect(formatToken('none', bytes)).toBe(`ENC[${bytes.toString('base64')}]`);
    expect(parseToken(formatToken('name', bytes))).toEqual({ mode: 'name', ciphertext: bytes });
    expect(parseToken(formatToken('none', bytes))).toEqual({ mode: 'none', ciphertext: bytes });
    for (const bad of ['ENC[]', 'ENC[kh1:]', 'ENC[a*b=]', 'ENC[abcde]', 'ENC[kh2:AAAA]']) {
      expect(() => parseToken(bad), bad).toThrow(expect.objectContaining({ code: 'InvalidToken' }));
    }
  });

  it('matches names by glob, case-insensitively; JSON paths are dotted names', () => {
    expect(compilePattern('*password*').test('DB_PASSWORD')).toBe(true);
    expect(compilePattern('db.*').test('db.password')).toBe(true);
    expect(compilePattern('db.*').test('db.nested.password')).toBe(false);
    expect(compilePattern('**.token').test('servers[0].token')).toBe(true);
    expect(compilePattern('$.db.password').test('db.password')).toBe(true);
    expect(selects({ only: ['DB_*'], except: ['DB_HOST'] }, 'DB_HOST')).toBe(false);
    expect(selects({ only: ['DB_*'], except: ['DB_HOST'] }, 'DB_PASSWORD')).toBe(true);
    expect(selects({}, 'anything')).toBe(true);
  });
});

describe('check', () => {
  it('finds plaintext values that look like secrets, and leaves tokens and ordinary values alone', () => {
    const text = [
      'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE',
      'GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'STRIPE=sk_live_abcdefghijklmnop',
      'DATABASE_URL=postgres://app:hunter2@db/app',
      'SESSION_SECRET=correct-horse',
      'RANDOM_BLOB=Zx8Qp2Lm9Rt4Vw7Yb1Nc5Kd3Hf6Jg0Sa',
      'KEY_PEM="-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"',
      'DB_PASSWORD=ENC[kh1:AAAA]',
      'LOG_LEVEL=debug',
      'PUBLIC_KEY_URL=https://example.com/key.pem',
      'GREETING=hello world, how are you today',
      '',
    ].join('\n');
    expect(findPlaintextSecrets(text, 'dotenv').map((finding) => finding.name)).toEqual([
      'AWS_ACCESS_KEY_ID',
      'GH',
      'STRIPE',
      'DATABASE_URL',
      'SESSION_SECRET',
      'RANDOM_BLOB',
      'KEY_PEM',
    ]);
  });
});
