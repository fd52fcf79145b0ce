// A client certificate the TLS layer verified (mutual TLS), as authentication reads it, and which of
// its names identifies a principal (auth.clientCertificates.identity). Pure: the transport takes
// the certificate off the connection.

/** Where the principal's name is read: the subject's CN, or one kind of subject alternative name. */
export const CERTIFICATE_IDENTITY_FIELDS = ['subject.CN', 'san.dns', 'san.email', 'san.uri'] as const;

export type CertificateIdentityField = (typeof CERTIFICATE_IDENTITY_FIELDS)[number];

export interface ClientCertificate {
  /** Every CN of the subject (a subject may hold several). */
  readonly subjectCommonNames: readonly string[];
  /** The subject alternative names as Node writes them (`DNS:a.example, email:b@example.com`). */
  readonly subjectAltName: string | undefined;
  /** SHA-256 of the certificate (Node's fingerprint256): the key of the recently-verified cache. */
  readonly fingerprint256: string;
  /** The end of its validity; a cached verification never outlives it. */
  readonly validTo: Date;
}

export interface SubjectAltName {
  /** `DNS`, `email`, `URI`, `IP Address`, `DirName`, ... as Node names them. */
  readonly type: string;
  readonly value: string;
}

const SAN_TYPES: Readonly<Record<Exclude<CertificateIdentityField, 'subject.CN'>, string>> = {
  'san.dns': 'DNS',
  'san.email': 'email',
  'san.uri': 'URI',
};

/** The index of the quote closing a JSON string whose content starts at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/**
 * Parses Node's subjectaltname text: entries `type:value` joined by ", ". Since CVE-2021-44532 Node
 * writes a value holding a comma, a quote, a backslash or a control character as a JSON string
 * (`DNS:"a\u002cb"`), so an unquoted value holds no comma and the list splits unambiguously.
 * Undefined when the text is not of that form: no name of such a certificate is trusted.
 */
export function parseSubjectAltNames(text: string): SubjectAltName[] | undefined {
  const names: SubjectAltName[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) return undefined;
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      const quote = closingQuote(text, colon + 2);
      if (quote < 0) return undefined;
      try {
        value = JSON.parse(text.slice(colon + 1, quote + 1)) as string;
      } catch {
        return undefined;
      }
      end = quote + 1;
    } else {
      const comma = text.indexOf(',', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    names.push({ type, value });
    if (end === text.length) break;
    if (!text.startsWith(', ', end)) return undefined;
    at = end + 2;
  }
  return names;
}

/**
 * The name `field` gives the certificate's holder: the one value of that field, or undefined when
 * it has none or several (two CNs, two DNS names): an ambiguous certificate names nobody.
 */
export function certificateIdentity(
  certificate: ClientCertificate,
  field: CertificateIdentityField,
): string | undefined {
  let values: readonly string[];
  if (field === 'subject.CN') {
    values = certificate.subjectCommonNames;
  } else {
    const names = parseSubjectAltNames(certificate.subjectAltName ?? '');
    if (!names) return undefined;
    values = names.filter((name) => name.type === SAN_TYPES[field]).map((name) => name.value);
  }
  return values.length === 1 && values[0] !== '' ? values[0] : undefined;
}
