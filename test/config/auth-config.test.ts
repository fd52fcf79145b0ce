// The auth section of the configuration: Keyhaven's access tokens and external OpenID Connect
// issuers (auth.accessTokens, auth.oidc), validated at start-up like every other setting.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** Loads a configuration file holding `sections` (its dataDir a temporary directory); returns the config. */
function loadFile(sections: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
  try {
    const file = join(dir, 'keyhaven.json');
    writeFileSync(file, JSON.stringify({ dataDir: dir, ...sections }));
    return loadConfig({ KEYHAVEN_CONFIG: file });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads a configuration file holding `auth` (and `server`); returns the validated auth section. */
const loadAuth = (auth: unknown, server?: unknown) =>
  loadFile({ auth, ...(server === undefined ? {} : { server }) }).auth;

const keycloak = {
  issuer: 'https://sso.example.com/realms/ops',
  audience: 'keyhaven',
  jwksUrl: 'https://sso.example.com/realms/ops/protocol/openid-connect/certs',
  rolesClaim: 'realm_access.roles',
  roleMapping: { 'kms-admin': 'admin', 'kms-operator': 'crypto-user' },
  tenant: 'ops',
};

const withIssuers = (...issuers: unknown[]) => loadAuth({ oidc: { issuers } });

describe('auth configuration', () => {
  it('defaults: no OpenID Connect issuer, 900 s access tokens of at most an hour', () => {
    expect(loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x' }).auth).toEqual({
      accessTokens: {
        issuer: 'keyhaven',
        defaultTtlSeconds: 900,
        maxTtlSeconds: 3600,
        clockToleranceSeconds: 5,
      },
      oidc: { issuers: [], fetchTimeoutMs: 5000, cacheMaxAgeMs: 600_000, cooldownMs: 30_000 },
    });
  });

  it('reads auth.oidc.issuers, filling in the principal claim, algorithms and clock tolerance', () => {
    const { oidc } = withIssuers(keycloak, {
      issuer: 'https://login.example.org/',
      audience: ['api://keyhaven', 'keyhaven'],
      jwksUrl: 'https://login.example.org/.well-known/jwks.json',
      principalClaim: 'email',
      rolesClaim: 'https://example.org/roles',
      tenantClaim: 'org_id',
      algorithms: ['PS256', 'ES384'],
      clockToleranceSeconds: 0,
    });
    expect(oidc.issuers[0]).toEqual({
      ...keycloak,
      principalClaim: 'sub',
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clockToleranceSeconds: 30,
    });
    expect(oidc.issuers[1]).toMatchObject({ principalClaim: 'email', algorithms: ['PS256', 'ES384'] });
  });

  it('fetches keys over https only, plain http only from a loopback address', () => {
    for (const jwksUrl of [
      'http://127.0.0.1:8080/certs',
      'http://localhost:8080/certs',
      'http://[::1]:8080/certs',
      'https://10.0.0.5/certs',
    ])
      expect(withIssuers({ ...keycloak, jwksUrl }).oidc.issuers[0]?.jwksUrl).toBe(jwksUrl);
    for (const jwksUrl of [
      'http://sso.example.com/certs',
      'http://10.0.0.5/certs',
      'http://0.0.0.0/certs',
      'http://localhost.example.com/certs',
      'ftp://sso.example.com/certs',
      'file:///etc/keyhaven/jwks.json',
      'sso.example.com/certs',
    ])
      expect(() => withIssuers({ ...keycloak, jwksUrl })).toThrow(/auth\.oidc\.issuers\.0\.jwksUrl: .*https/);
    expect(() => withIssuers({ ...keycloak, jwksUrl: 'https://user:secret@sso.example.com/certs' })).toThrow(
      /must not carry credentials/,
    );
  });

  it('refuses an issuer listed twice, or the same as the access tokens issuer', () => {
    expect(() => withIssuers(keycloak, { ...keycloak, audience: 'other' })).toThrow(
      /auth\.oidc\.issuers\.1\.issuer: the issuer https:\/\/sso\.example\.com\/realms\/ops is listed twice/,
    );
    expect(() =>
      loadAuth({ accessTokens: { issuer: keycloak.issuer }, oidc: { issuers: [keycloak] } }),
    ).toThrow(/auth\.oidc\.issuers\.0\.issuer: .*must differ from auth\.accessTokens\.issuer/);
  });

  it('refuses unknown fields, a fixed tenant together with a tenant claim, and missing essentials', () => {
    expect(() => withIssuers({ ...keycloak, audiance: 'keyhaven' })).toThrow(/audiance/);
    expect(() => loadAuth({ oidc: { issuers: [], fetchTimeout: 1 } })).toThrow(/fetchTimeout/);
    expect(() => loadAuth({ tokens: {} })).toThrow(/tokens/);
    expect(() => withIssuers({ ...keycloak, tenantClaim: 'org' })).toThrow(
      /tenantClaim: set tenant .* or tenantClaim .*, not both/,
    );
    const { audience: _, ...noAudience } = keycloak;
    expect(() => withIssuers(noAudience)).toThrow(/issuers\.0\.audience/);
    expect(() => withIssuers({ ...keycloak, audience: [] })).toThrow(/issuers\.0\.audience/);
    expect(() => withIssuers({ ...keycloak, issuer: 'ops realm' })).toThrow(/issuers\.0\.issuer: .*URL/);
    expect(() => withIssuers({ ...keycloak, roleMapping: { 'kms-admin': '' } })).toThrow(/roleMapping/);
    expect(() => withIssuers({ ...keycloak, clockToleranceSeconds: 3600 })).toThrow(/clockToleranceSeconds/);
  });

  it('accepts asymmetric signature algorithms only: no none, no HMAC', () => {
    for (const algorithm of ['none', 'HS256', 'RSA-OAEP', 'rs256'])
      expect(() => withIssuers({ ...keycloak, algorithms: [algorithm] })).toThrow(/issuers\.0\.algorithms/);
    expect(() => withIssuers({ ...keycloak, algorithms: [] })).toThrow(/issuers\.0\.algorithms/);
  });

  it('lets access tokens live shorter, never longer than an hour, the default within the maximum', () => {
    expect(
      loadAuth({ accessTokens: { defaultTtlSeconds: 60, maxTtlSeconds: 300 } }).accessTokens,
    ).toMatchObject({
      defaultTtlSeconds: 60,
      maxTtlSeconds: 300,
    });
    expect(() => loadAuth({ accessTokens: { maxTtlSeconds: 3601 } })).toThrow(/maxTtlSeconds/);
    expect(() => loadAuth({ accessTokens: { maxTtlSeconds: 600 } })).toThrow(
      /defaultTtlSeconds: defaultTtlSeconds must not exceed maxTtlSeconds/,
    );
    expect(() => loadAuth({ accessTokens: { defaultTtlSeconds: 0 } })).toThrow(ConfigError);
  });

  it('bounds the key fetching: timeout, cache age and cooldown', () => {
    expect(
      loadAuth({ oidc: { fetchTimeoutMs: 2000, cacheMaxAgeMs: 60_000, cooldownMs: 5000 } }).oidc,
    ).toMatchObject({ fetchTimeoutMs: 2000, cacheMaxAgeMs: 60_000, cooldownMs: 5000 });
    expect(() => loadAuth({ oidc: { fetchTimeoutMs: 0 } })).toThrow(/fetchTimeoutMs/);
    expect(() => loadAuth({ oidc: { cooldownMs: 0 } })).toThrow(/cooldownMs/);
    expect(() => loadAuth({ oidc: { cacheMaxAgeMs: 10 } })).toThrow(/cacheMaxAgeMs/);
  });

  it('reads auth.clientCertificates under mutual TLS only: the identity field, the tenant (default)', () => {
    const mutualTls = {
      tls: { cert: '/etc/kh/server.crt', key: '/etc/kh/server.key', clientCa: '/etc/kh/ca.crt' },
    };
    expect(loadAuth({ clientCertificates: { identity: 'san.uri' } }, mutualTls).clientCertificates).toEqual({
      identity: 'san.uri',
      tenant: 'default',
    });
    expect(
      loadAuth({ clientCertificates: { identity: 'subject.CN', tenant: 'ops' } }, mutualTls)
        .clientCertificates,
    ).toEqual({ identity: 'subject.CN', tenant: 'ops' });
    expect(() => loadAuth({ clientCertificates: { identity: 'subject.CN' } })).toThrow(
      /auth\.clientCertificates: .*server\.tls\.clientCa/,
    );
    const tlsOnly = { tls: { cert: '/etc/kh/server.crt', key: '/etc/kh/server.key' } };
    expect(() => loadAuth({ clientCertificates: { identity: 'subject.CN' } }, tlsOnly)).toThrow(/clientCa/);
    expect(() => loadAuth({ clientCertificates: { identity: 'subject.O' } }, mutualTls)).toThrow(
      /clientCertificates\.identity/,
    );
    expect(() => loadAuth({ clientCertificates: {} }, mutualTls)).toThrow(/clientCertificates\.identity/);
    expect(() => loadAuth({ clientCertificates: { identity: 'san.dns', tenant: '' } }, mutualTls)).toThrow(
      /clientCertificates\.tenant/,
    );
  });
});

describe('console.oidc', () => {
  const loadConsole = (consoleOidc: Record<string, string>) =>
    loadFile({
      auth: { oidc: { issuers: [keycloak] } },
      console: { oidc: { issuer: keycloak.issuer, clientId: 'console', ...consoleOidc } },
    }).console.oidc;

  it('takes a token endpoint on another origin, and refuses one in clear under an https issuer', () => {
    expect(loadConsole({ tokenEndpoint: 'https://tokens.example.com/oauth/token' })).toMatchObject({
      tokenEndpoint: 'https://tokens.example.com/oauth/token',
      scope: 'openid',
    });
    expect(() => loadConsole({ tokenEndpoint: 'http://tokens.example.com/oauth/token' })).toThrow(
      /console\.oidc\.tokenEndpoint: tokenEndpoint must be https when the issuer is/,
    );
    expect(() => loadConsole({ tokenEndpoint: 'ftp://tokens.example.com/' })).toThrow(/http\(s\) URL/);
  });
});
