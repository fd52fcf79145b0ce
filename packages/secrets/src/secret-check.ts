// `check`: plaintext values that look like secrets, by what they are (known token prefixes, private
// keys, credentials in URLs), by what they are called (PASSWORD, SECRET, TOKEN, KEY...) or by their
// entropy. Heuristics: they find likely mistakes, they cannot prove a file clean.
import { parseSecretDocument, type SecretFormat } from './formats/index.js';
import { isEncryptedValue } from './token.js';

export interface SecretFinding {
  name: string;
  reason: string;
}

const KNOWN_FORMATS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key'],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}/, 'a GitHub token'],
  [/\bgithub_pat_[A-Za-z0-9_]{30,}/, 'a GitHub token'],
  [/\b(sk|rk)_(live|test)_[A-Za-z0-9]{10,}/, 'a Stripe key'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/, 'a Google API key'],
  [/\bkhk_[A-Za-z0-9_]{16,}/, 'a Keyhaven API key'],
  [/\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, 'a JSON Web Token'],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'a URL with a password'],
];

const SECRET_NAME =
  /(PASS(WORD|WD|PHRASE)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH|(^|[_.-])KEY($|[_.-]))/i;
const NOT_SECRET_NAME = /(PUBLIC|_URL$|_PATH$|_FILE$|_ID$|_HOST$|_PORT$|_NAME$|_USER(NAME)?$)/i;

export function findPlaintextSecrets(text: string, format: SecretFormat): SecretFinding[] {
  const findings: SecretFinding[] = [];
  for (const { name, value } of parseSecretDocument(text, format).entries) {
    if (value === '' || isEncryptedValue(value)) continue;
    const reason = reasonOf(name, value);
    if (reason) findings.push({ name, reason });
  }
  return findings;
}

function reasonOf(name: string, value: string): string | undefined {
  for (const [pattern, what] of KNOWN_FORMATS) if (pattern.test(value)) return `looks like ${what}`;
  const leaf = name.split(/[.[]/).pop() ?? name;
  if (
    SECRET_NAME.test(leaf) &&
    !NOT_SECRET_NAME.test(leaf) &&
    value.length >= 6 &&
    !/^(true|false|\d+)$/i.test(value)
  ) {
    return 'its name suggests a secret';
  }
  if (value.length >= 20 && !/\s/.test(value) && entropyPerChar(value) >= 4) return 'a high-entropy string';
  return undefined;
}

/** Shannon entropy in bits per character. */
function entropyPerChar(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
