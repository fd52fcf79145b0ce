// Which name of a client certificate identifies its holder (src/domain/client-certificate.ts), read
// from certificates made by the openssl CLI and decoded by node:crypto as the TLS layer decodes a
// peer's: subject CNs, subject alternative names of each kind, values Node has to quote.
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  certificateIdentity,
  parseSubjectAltNames,
  type ClientCertificate,
} from '../../src/domain/client-certificate.js';
import { OpensslWorkspace } from '../integration/openssl.js';

const openssl = new OpensslWorkspace();
afterAll(() => openssl.dispose());

/** A self-signed certificate with `subject` and the [alt] entries given, as the TLS layer sees it. */
function certificate(name: string, subject: string, alt: string[] = []): ClientCertificate {
  const config = openssl.write(
    `${name}.cnf`,
    '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=CA:FALSE\n' +
      (alt.length > 0 ? `subjectAltName=@alt\n[alt]\n${alt.join('\n')}\n` : ''),
  );
  openssl.run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-subj',
    subject,
    '-config',
    config,
    '-extensions',
    'v3',
  ]);
  // toLegacyObject() is the object getPeerCertificate() answers for a peer.
  const legacy = new X509Certificate(openssl.read(`${name}.crt`)).toLegacyObject();
  const cn = (legacy.subject as { CN?: string | string[] }).CN;
  return {
    subjectCommonNames: cn === undefined ? [] : [cn].flat(),
    subjectAltName: legacy.subjectaltname,
    fingerprint256: legacy.fingerprint256,
    validTo: new Date(legacy.valid_to),
  };
}

describe('certificateIdentity', () => {
  const full = certificate('full', '/CN=billing/O=Example', [
    'DNS.1=billing.internal.example',
    'email.1=billing@example.com',
    'URI.1=spiffe://example.org/ns/prod/sa/billing',
    'IP.1=10.0.0.7',
  ]);

  it('reads the subject CN, or the one DNS name, email address or URI', () => {
    expect(certificateIdentity(full, 'subject.CN')).toBe('billing');
    expect(certificateIdentity(full, 'san.dns')).toBe('billing.internal.example');
    expect(certificateIdentity(full, 'san.email')).toBe('billing@example.com');
    expect(certificateIdentity(full, 'san.uri')).toBe('spiffe://example.org/ns/prod/sa/billing');
    expect(new Date(full.validTo).getTime()).toBeGreaterThan(Date.now());
  });

  it('names nobody when the field is missing or given twice', () => {
    const bare = certificate('bare', '/O=Example');
    expect(certificateIdentity(bare, 'subject.CN')).toBeUndefined();
    expect(certificateIdentity(bare, 'san.dns')).toBeUndefined();
    const doubled = certificate('doubled', '/CN=a/CN=b', ['DNS.1=a.example', 'DNS.2=b.example']);
    expect(doubled.subjectCommonNames).toEqual(['a', 'b']);
    expect(certificateIdentity(doubled, 'subject.CN')).toBeUndefined();
    expect(certificateIdentity(doubled, 'san.dns')).toBeUndefined();
  });

  it('reads values Node quotes (a comma inside) whole, and no entry can be smuggled in one', () => {
    const quoted = certificate('quoted', '/CN=x', [
      'URI.1=https://x.example/a?b=c, DNS:admin',
      'email.1=ops@example.com',
    ]);
    expect(quoted.subjectAltName).toContain('"');
    expect(certificateIdentity(quoted, 'san.uri')).toBe('https://x.example/a?b=c, DNS:admin');
    expect(certificateIdentity(quoted, 'san.dns')).toBeUndefined();
    expect(certificateIdentity(quoted, 'san.email')).toBe('ops@example.com');
  });
});

describe('parseSubjectAltNames', () => {
  it('splits Node’s text into entries, JSON-quoted values decoded', () => {
    expect(parseSubjectAltNames('DNS:a.example, IP Address:10.0.0.1, URI:"x\\u002cy"')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'IP Address', value: '10.0.0.1' },
      { type: 'URI', value: 'x,y' },
    ]);
    expect(parseSubjectAltNames('')).toEqual([]);
  });

  it('rejects text of another form as a whole', () => {
    for (const text of ['DNS', 'DNS:"open', 'DNS:a,DNS:b', 'DNS:"a"x', 'DNS:"\\q"'])
      expect(parseSubjectAltNames(text), text).toBeUndefined();
  });
});
