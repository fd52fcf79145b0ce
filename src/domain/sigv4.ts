// AWS Signature Version 4, as a server checks it: pure, no I/O, no clock of its own. The AWS
// dialect's authenticator (services/aws-authenticator.ts) parses the Authorization header with
// parseAuthorization, finds the access key's secret, and asks verifySignature whether the request
// is the one that was signed. The algorithm is AWS's ("Create a signed AWS API request", the
// SigV4 reference): a canonical request of the method, path, query, the signed headers and the
// payload's SHA-256; a string to sign over its hash with the date and credential scope; and an
// HMAC-SHA256 under a key derived from the secret by date, region and service.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/** Why a request's signature is refused; the transport names each as AWS does. */
export type SignatureProblem =
  /** No Authorization header (or not a SigV4 one). */
  | 'missing'
  /** A SigV4 header without one of its parts, or parts that contradict each other. */
  | 'incomplete'
  /** The access key is unknown or revoked. */
  | 'unknown-key'
  /** The signature does not match the request. */
  | 'mismatch'
  /** The request's time is too far from the server's. */
  | 'expired';

export class SignatureError extends Error {
  constructor(
    readonly problem: SignatureProblem,
    message: string,
  ) {
    super(message);
    this.name = 'SignatureError';
  }
}

export interface CredentialScope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export interface ParsedAuthorization {
  accessKeyId: string;
  scope: CredentialScope;
  /** Lower-case header names, as listed (they must be sorted and unique). */
  signedHeaders: string[];
  /** 64 lower-case hex digits. */
  signature: string;
}

export interface SignedRequest {
  method: string;
  /** The request target's path, as sent (still percent-encoded). */
  path: string;
  /** The request target's query string, without '?', as sent ('' for none). */
  query: string;
  /** Header names (any case) and values, in the order received; repeated names repeat. */
  rawHeaders: readonly string[];
  /** SHA-256 of the body, lower-case hex. */
  payloadHash: string;
}

const CREDENTIAL = /^([A-Za-z0-9]{1,128})\/(\d{8})\/([a-z0-9-]{1,64})\/([a-z0-9-]{1,64})\/aws4_request$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * The parts of `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/kms/aws4_request,
 * SignedHeaders=host;x-amz-date, Signature=<hex>`. Throws SignatureError('missing') for no header
 * or another scheme, 'incomplete' for a malformed one.
 */
export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (header === undefined || header === '') {
    throw new SignatureError('missing', 'Missing Authentication Token');
  }
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== SIGV4_ALGORITHM) {
    throw new SignatureError('missing', `the Authorization header is not ${SIGV4_ALGORITHM}`);
  }
  const parts = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const item = part.trim();
    const equals = item.indexOf('=');
    if (equals <= 0) throw incomplete(`Authorization header requires an "=" in "${clip(item)}"`);
    const name = item.slice(0, equals);
    if (parts.has(name)) throw incomplete(`Authorization header has "${clip(name)}" twice`);
    parts.set(name, item.slice(equals + 1));
  }
  for (const name of parts.keys()) {
    if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
      throw incomplete(`Authorization header has an unknown part "${clip(name)}"`);
    }
  }
  const credential = parts.get('Credential');
  const signedHeaders = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (credential === undefined) throw incomplete("Authorization header requires 'Credential' parameter");
  if (signedHeaders === undefined) {
    throw incomplete("Authorization header requires 'SignedHeaders' parameter");
  }
  if (signature === undefined) throw incomplete("Authorization header requires 'Signature' parameter");
  const scope = CREDENTIAL.exec(credential);
  if (!scope) {
    throw incomplete('Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request');
  }
  const headers = signedHeaders.split(';');
  for (const [i, name] of headers.entries()) {
    if (!HEADER_NAME.test(name)) throw incomplete(`SignedHeaders lists "${clip(name)}", not a header name`);
    if (i > 0 && name <= headers[i - 1]!) throw incomplete('SignedHeaders must be sorted, each name once');
  }
  if (!HEX_SIGNATURE.test(signature)) throw incomplete('Signature must be 64 lower-case hex digits');
  return {
    accessKeyId: scope[1]!,
    scope: { date: scope[2]!, region: scope[3]!, service: scope[4]! },
    signedHeaders: headers,
    signature,
  };
}

/** The instant an `X-Amz-Date` value (YYYYMMDD'T'HHMMSS'Z') names, or undefined if it is not one. */
export function parseAmzDate(value: string | undefined): Date | undefined {
  const match = value === undefined ? null : AMZ_DATE.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, ...number[]];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  // Date.UTC rolls 20261332 over into the next year: refuse what does not come back as written.
  const exact =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo! - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return exact ? date : undefined;
}

export const toAmzDate = (date: Date): string =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

/**
 * Throws SignatureError('expired') unless `signedAt` is within `skewMs` of `now` either way (AWS
 * allows five minutes).
 */
export function checkRequestTime(signedAt: Date, now: Date, skewMs: number): void {
  const earliest = new Date(now.getTime() - skewMs);
  const latest = new Date(now.getTime() + skewMs);
  const minutes = Math.round(skewMs / 60_000);
  if (signedAt < earliest) {
    throw new SignatureError(
      'expired',
      `Signature expired: ${toAmzDate(signedAt)} is now earlier than ${toAmzDate(earliest)} (${toAmzDate(now)} - ${minutes} min.)`,
    );
  }
  if (signedAt > latest) {
    throw new SignatureError(
      'expired',
      `Signature not yet current: ${toAmzDate(signedAt)} is still later than ${toAmzDate(latest)} (${toAmzDate(now)} + ${minutes} min.)`,
    );
  }
}

/** The key the secret derives for one day, region and service (AWS4 + secret, HMAC by each). */
export function deriveSigningKey(secretAccessKey: string | Buffer, scope: CredentialScope): Buffer {
  let date: Buffer;
  if (typeof secretAccessKey === 'string') date = hmac(`AWS4${secretAccessKey}`, scope.date);
  else {
    // From bytes, so that no copy of the secret is left in a string nobody can zero.
    const key = Buffer.concat([Buffer.from('AWS4'), secretAccessKey]);
    date = hmac(key, scope.date);
    key.fill(0);
  }
  const region = hmac(date, scope.region);
  const service = hmac(region, scope.service);
  return hmac(service, 'aws4_request');
}

/**
 * The canonical request of SigV4 over the headers `signedHeaders` names: every one must be
 * present (throws SignatureError('incomplete') for one that is not).
 */
export function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[]): string {
  const values = headerValues(request.rawHeaders);
  const lines = signedHeaders.map((name) => {
    const value = values.get(name);
    if (value === undefined) throw incomplete(`SignedHeaders lists "${name}", which the request lacks`);
    return `${name}:${value}`;
  });
  return [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.query),
    ...lines,
    '',
    signedHeaders.join(';'),
    request.payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: CredentialScope, canonical: string): string {
  return [
    SIGV4_ALGORITHM,
    amzDate,
    `${scope.date}/${scope.region}/${scope.service}/aws4_request`,
    sha256Hex(canonical),
  ].join('\n');
}

/** Whether `authorization`'s signature is the request's under `signingKey` (constant time). */
export function signatureMatches(
  request: SignedRequest,
  authorization: ParsedAuthorization,
  amzDate: string,
  signingKey: Buffer,
): boolean {
  const canonical = canonicalRequest(request, authorization.signedHeaders);
  const expected = hmac(signingKey, stringToSign(amzDate, authorization.scope, canonical));
  return timingSafeEqual(expected, Buffer.from(authorization.signature, 'hex'));
}

/** One-shot (crypto.hash): a third of createHash's cost per call, twice per request here. */
export const sha256Hex = (data: string | Buffer): string => hash('sha256', data, 'hex');

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** Lower-case names to their values: each trimmed, inner runs of spaces one space, repeats joined by ','. */
function headerValues(rawHeaders: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!.trim().replace(/\s+/g, ' ');
    const before = values.get(name);
    values.set(name, before === undefined ? value : `${before},${value}`);
  }
  return values;
}

/**
 * Each path segment URI-encoded as AWS does for services other than S3: the path as sent (already
 * encoded once) is encoded again, after removing `.` and `..` segments.
 */
function canonicalPath(path: string): string {
  if (path === '' || path === '/') return '/';
  const segments: string[] = [];
  for (const segment of path.split('/').slice(1)) {
    if (segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const joined = `/${segments.map(uriEncode).join('/')}`;
  return path.endsWith('/') && !joined.endsWith('/') ? `${joined}/` : joined;
}

/** Parameters sorted by name then value, each name and value URI-encoded; `=` even for no value. */
function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      const value = equals < 0 ? '' : pair.slice(equals + 1);
      return [uriEncode(decode(name)), uriEncode(decode(value))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** RFC 3986: every byte but A–Z a–z 0–9 - _ . ~ as %XX, upper-case hex. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, '%20'));
  } catch {
    return text;
  }
}

const incomplete = (message: string) => new SignatureError('incomplete', message);

/** Caller-supplied text in a message, cut short. */
const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);
