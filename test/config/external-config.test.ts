// keyStore.external: provider credentials read from the environment once (and removed from it),
// and provider links that would carry data keys and credentials in clear refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhaven-external-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withProviders(providers: unknown[], env: Record<string, string> = {}) {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ dataDir: dir, keyStore: { external: { providers } } }));
  const processEnv: Record<string, string | undefined> = { KEYHAVEN_CONFIG: file, ...env };
  return { load: () => loadConfig(processEnv), processEnv };
}

describe('keyStore.external', () => {
  it('reads tokenEnv and secretAccessKeyEnv once and removes them from the environment', () => {
    const { load, processEnv } = withProviders(
      [
        { type: 'keyhaven', name: 'dr', url: 'https://kms-dr.example:8400', tokenEnv: 'DR_TOKEN' },
        {
          type: 'aws-kms',
          name: 'aws',
          region: 'eu-west-1',
          accessKeyId: 'AKIAEXAMPLE',
          secretAccessKeyEnv: 'AWS_SECRET_FOR_KEYHAVEN',
        },
      ],
      { DR_TOKEN: 'khk_dr_token_value', AWS_SECRET_FOR_KEYHAVEN: 'secret-value' },
    );
    const config = load();
    expect(config.keyStore.external?.providers).toMatchObject([
      { type: 'keyhaven', name: 'dr', token: 'khk_dr_token_value' },
      { type: 'aws-kms', name: 'aws', secretAccessKey: 'secret-value' },
    ]);
    expect(config.keyStore.external?.wrapGraceMs).toBe(500);
    expect(processEnv.DR_TOKEN).toBeUndefined();
    expect(processEnv.AWS_SECRET_FOR_KEYHAVEN).toBeUndefined();
  });

  it('refuses http:// to anything but a loopback address, duplicate names, and half a key pair', () => {
    const problem = (providers: unknown[]) => {
      try {
        withProviders(providers).load();
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problem([{ type: 'keyhaven', name: 'a', url: 'http://kms.example', token: 't' }])).toMatch(
      /https:\/\//,
    );
    expect(problem([{ type: 'aws-kms', name: 'a', region: 'r', endpoint: 'http://10.0.0.5:8400' }])).toMatch(
      /https:\/\//,
    );
    expect(problem([{ type: 'keyhaven', name: 'a', url: 'http://127.0.0.1:8400', token: 't' }])).toBe(
      'accepted',
    );
    const twice = { type: 'keyhaven', name: 'a', url: 'https://x.example', token: 't' };
    expect(problem([twice, twice])).toMatch(/unique/);
    expect(problem([{ type: 'aws-kms', name: 'a', region: 'r', accessKeyId: 'AKIA' }])).toMatch(
      /go together/,
    );
    // The secret is never quoted in the error.
    expect(
      problem([{ type: 'keyhaven', name: 'a', url: 'ftp://x', token: 'khk_never_printed' }]),
    ).not.toContain('khk_never_printed');
  });
});
