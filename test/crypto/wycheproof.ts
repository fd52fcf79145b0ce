// Loads the Wycheproof vector files copied into test/vectors/wycheproof (Apache-2.0, LICENSE beside
// them) and tallies outcomes, so each suite can prove how many vectors it actually checked.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

export interface WycheproofTest {
  tcId: number;
  comment: string;
  result: WycheproofResult;
  flags: string[];
}

export interface WycheproofGroup<T extends WycheproofTest> {
  type: string;
  tests: T[];
}

export interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

export interface AeadTest extends WycheproofTest {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
export interface AeadGroup extends WycheproofGroup<AeadTest> {
  ivSize: number;
  keySize: number;
  tagSize: number;
}

export interface KeywrapTest extends WycheproofTest {
  key: string;
  msg: string;
  ct: string;
}
export type KeywrapGroup = WycheproofGroup<KeywrapTest> & { keySize: number };

export interface MacTest extends WycheproofTest {
  key: string;
  msg: string;
  tag: string;
}
export type MacGroup = WycheproofGroup<MacTest> & { keySize: number; tagSize: number };

export interface HkdfTest extends WycheproofTest {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}
export type HkdfGroup = WycheproofGroup<HkdfTest>;

export interface SignatureTest extends WycheproofTest {
  msg: string;
  sig: string;
}
export interface SignatureGroup extends WycheproofGroup<SignatureTest> {
  /** SubjectPublicKeyInfo DER, hex. */
  publicKeyDer: string;
  sha?: string;
  mgfSha?: string;
  sLen?: number;
}

export interface OaepTest extends WycheproofTest {
  msg: string;
  ct: string;
  label: string;
}
export interface OaepGroup extends WycheproofGroup<OaepTest> {
  /** PKCS#8 DER, hex. */
  privateKeyPkcs8: string;
  sha: string;
  mgfSha: string;
}

const VECTOR_DIR = fileURLToPath(new URL('../vectors/wycheproof/', import.meta.url));

export function loadWycheproof<G>(fileName: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(VECTOR_DIR + fileName, 'utf8')) as WycheproofFile<G>;
}

export const hex = (value: string) => Buffer.from(value, 'hex');

/**
 * Counts how each vector fared. `check` returns whether our implementation accepted the vector; a
 * valid vector must be accepted, an invalid one rejected, an acceptable one may go either way and is
 * counted by outcome so the report can say what we chose.
 */
export class VectorTally {
  validAccepted = 0;
  invalidRejected = 0;
  acceptableAccepted = 0;
  acceptableRejected = 0;
  skipped = 0;
  readonly failures: string[] = [];

  constructor(readonly name: string) {}

  record(test: WycheproofTest, accepted: boolean, note = ''): void {
    const id = `${this.name} tcId ${test.tcId} (${test.comment}) ${note}`.trim();
    if (test.result === 'valid') {
      if (accepted) this.validAccepted++;
      else this.failures.push(`valid vector rejected: ${id}`);
    } else if (test.result === 'invalid') {
      if (!accepted) this.invalidRejected++;
      else this.failures.push(`invalid vector accepted: ${id}`);
    } else if (accepted) this.acceptableAccepted++;
    else this.acceptableRejected++;
  }

  get checked(): number {
    return this.validAccepted + this.invalidRejected + this.acceptableAccepted + this.acceptableRejected;
  }

  report(): string {
    const acceptable =
      this.acceptableAccepted + this.acceptableRejected > 0
        ? `, acceptable ${this.acceptableAccepted} accepted / ${this.acceptableRejected} rejected`
        : '';
    const line = `${this.name}: valid accepted ${this.validAccepted}, invalid rejected ${this.invalidRejected}${acceptable}, skipped ${this.skipped}`;
    console.log(line);
    return line;
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `run`, capturing a throw as a value so a vector loop can classify it. */
export function attempt<T>(run: () => T): Outcome<T> {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
}
