// Wycheproof signature vectors (test/vectors/wycheproof, Apache-2.0) run through the REST API: each
// test group's public key is imported as a verify-only key (BYOK PUBLIC_KEY, SPKI DER) and every
// vector goes through POST /v1/verify, in RAW mode and, where AWS allows it, in DIGEST mode (whose
// ECDSA and RSA paths are Keyhaven's own code, not OpenSSL's).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImportedKey } from './byok.js';
import { mapConcurrent, type Api, type ApiResponse } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import type { ErrorBody, ValidReply } from './wire-types.js';

const VECTOR_DIRS = [
  resolve(import.meta.dirname, '..', 'vectors', 'wycheproof'),
  // Where the vectors are staged before being copied into the repository.
  resolve(import.meta.dirname, '..', '..', '..', 'shared', 'vectors', 'wycheproof'),
];

/**
 * Importing a key costs the server an RSA-3072 key generation (a fresh import wrapping key per
 * token), so by default a few keys per file are imported: the group with the most vectors and a
 * spread of the others. Set WYCHEPROOF_KEYS_PER_FILE=all to run every group (a few minutes).
 */
const KEYS_PER_FILE =
  process.env.WYCHEPROOF_KEYS_PER_FILE === 'all'
    ? Number.POSITIVE_INFINITY
    : Number(process.env.WYCHEPROOF_KEYS_PER_FILE ?? 4);
const VERIFY_CONCURRENCY = 16;
const IMPORT_CONCURRENCY = 2;

/**
 * AWS KMS's 4096-byte message limit for Sign/Verify, mirrored by Keyhaven: a longer RAW message is
 * refused with a 400 before any verification, so such a vector (none in the current files) would
 * test the limit rather than the signature scheme, and is skipped.
 */
const MAX_MESSAGE_BYTES = 4096;
/** AWS's limit on Verify's signature, and /v1/verify's: longer (malformed) signatures get a 400. */
const MAX_SIGNATURE_BYTES = 6144;
/**
 * Files none of whose groups fit AWS's parameters. rsa_pss_4096_sha512_mgf1_32 signs with a 32-byte
 * salt where AWS's RSASSA_PSS_SHA_512 uses 64; test/crypto/signature-vectors.test.ts proves those
 * signatures are refused. Listed so that a file silently becoming unrunnable fails the suite.
 */
const FILES_OUTSIDE_AWS_PARAMETERS = ['rsa_pss_4096_sha512_mgf1_32_test.json'];

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
}

interface WycheproofGroup {
  publicKeyDer?: string;
  keyDer?: string;
  publicKey?: { curve?: string; publicExponent?: string };
  keySize?: number;
  sha?: string;
  mgfSha?: string;
  sLen?: number;
  tests: WycheproofTest[];
}

interface WycheproofFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: WycheproofGroup[];
}

type Plan =
  { keySpec: string; algorithm: string; digest: 'sha256' | 'sha384' | 'sha512' | null } | { skip: string };

const CURVE_SPECS: Record<string, string> = {
  secp256r1: 'ECC_NIST_P256',
  secp384r1: 'ECC_NIST_P384',
  secp521r1: 'ECC_NIST_P521',
  secp256k1: 'ECC_SECG_P256K1',
};
/** AWS KMS pairs each curve with one hash. */
const CURVE_HASH: Record<string, string> = {
  ECC_NIST_P256: 'SHA-256',
  ECC_NIST_P384: 'SHA-384',
  ECC_NIST_P521: 'SHA-512',
  ECC_SECG_P256K1: 'SHA-256',
};
const HASH_LENGTH: Record<string, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };
const nodeHash = (sha: string) => sha.replace('SHA-', 'sha') as 'sha256' | 'sha384' | 'sha512';
const awsHash = (sha: string) => sha.replace('SHA-', 'SHA_');

const spkiOf = (group: WycheproofGroup) => Buffer.from(group.publicKeyDer ?? group.keyDer ?? '', 'hex');

/** Maps a group to the AWS key spec and algorithm it exercises, or the reason it cannot run. */
function planGroup(file: WycheproofFile, group: WycheproofGroup): Plan {
  const sha = group.sha ?? '';
  switch (file.algorithm) {
    case 'ECDSA': {
      const keySpec = CURVE_SPECS[group.publicKey?.curve ?? ''];
      if (!keySpec) return { skip: `curve ${group.publicKey?.curve} has no key spec` };
      if (CURVE_HASH[keySpec] !== sha) return { skip: `AWS has no ${keySpec} with ${sha}` };
      return { keySpec, algorithm: `ECDSA_${awsHash(sha)}`, digest: nodeHash(sha) };
    }
    case 'EDDSA':
      return { keySpec: 'ECC_NIST_EDWARDS25519', algorithm: 'ED25519_SHA_512', digest: null };
    case 'RSASSA-PKCS1-v1_5':
    case 'RSASSA-PSS': {
      const pss = file.algorithm === 'RSASSA-PSS';
      if (![2048, 3072, 4096].includes(group.keySize ?? 0))
        return { skip: `no key spec for RSA-${group.keySize}` };
      if (!HASH_LENGTH[sha]) return { skip: `AWS has no RSA signing with ${sha}` };
      if (pss && (group.mgfSha !== sha || group.sLen !== HASH_LENGTH[sha])) {
        return {
          skip: `AWS RSASSA-PSS uses MGF1 with ${sha} and sLen ${HASH_LENGTH[sha]}; group has ${group.mgfSha}/${group.sLen}`,
        };
      }
      if (group.publicKey?.publicExponent !== '010001') {
        return {
          skip: `public exponent 0x${group.publicKey?.publicExponent} is refused at import (FIPS 186-4: e > 2^16)`,
        };
      }
      return {
        keySpec: `RSA_${group.keySize}`,
        algorithm: `RSASSA_${pss ? 'PSS' : 'PKCS1_V1_5'}_${awsHash(sha)}`,
        digest: nodeHash(sha),
      };
    }
    default:
      return { skip: `algorithm ${file.algorithm} is not a signature scheme of the API` };
  }
}

const VECTOR_FILES = [
  'ecdsa_secp256r1_sha256_test.json',
  'ecdsa_secp384r1_sha384_test.json',
  'ecdsa_secp521r1_sha512_test.json',
  'ecdsa_secp256k1_sha256_test.json',
  'ed25519_test.json',
  'rsa_signature_2048_sha256_test.json',
  'rsa_signature_3072_sha384_test.json',
  'rsa_signature_4096_sha512_test.json',
  'rsa_pss_2048_sha256_mgf1_32_test.json',
  'rsa_pss_3072_sha256_mgf1_32_test.json',
  'rsa_pss_4096_sha512_mgf1_32_test.json',
];

/**
 * The fewest verify calls (RAW and DIGEST) each runnable file must make with the default cap or a
 * higher one, so that a run silently shrinking (a renamed field, a skipped group) fails.
 */
const MIN_VERIFY_CALLS: Record<string, number> = {
  'ecdsa_secp256r1_sha256_test.json': 700,
  'ecdsa_secp384r1_sha384_test.json': 760,
  'ecdsa_secp521r1_sha512_test.json': 840,
  'ecdsa_secp256k1_sha256_test.json': 700,
  'ed25519_test.json': 80,
  'rsa_signature_2048_sha256_test.json': 510,
  'rsa_pss_2048_sha256_mgf1_32_test.json': 216,
};

interface Runnable {
  group: WycheproofGroup;
  keySpec: string;
  algorithm: string;
  digest: 'sha256' | 'sha384' | 'sha512' | null;
}

interface FilePlan {
  file: string;
  runnable: Runnable[];
  /** Reason -> how many groups and vectors it keeps out of the run. */
  skipped: Map<string, { groups: number; vectors: number }>;
}

function skip(plan: FilePlan, reason: string, group: WycheproofGroup): void {
  const entry = plan.skipped.get(reason) ?? { groups: 0, vectors: 0 };
  plan.skipped.set(reason, { groups: entry.groups + 1, vectors: entry.vectors + group.tests.length });
}

const describeSkips = (plan: FilePlan) =>
  [...plan.skipped].map(
    ([reason, { groups, vectors }]) => `${reason} (${groups} groups, ${vectors} vectors)`,
  );

function loadPlan(file: string): FilePlan {
  const dir = VECTOR_DIRS.find((d) => existsSync(join(d, file)));
  if (!dir) throw new Error(`Wycheproof file ${file} is missing from test/vectors/wycheproof`);
  const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as WycheproofFile;
  const filePlan: FilePlan = { file, runnable: [], skipped: new Map() };
  const byKey = new Map<string, Runnable>();
  for (const group of parsed.testGroups) {
    const plan = planGroup(parsed, group);
    if ('skip' in plan) {
      skip(filePlan, plan.skip, group);
      continue;
    }
    // Groups sharing a public key share one imported key.
    const id = `${plan.keySpec}:${plan.algorithm}:${spkiOf(group).toString('hex')}`;
    const existing = byKey.get(id);
    if (existing) existing.group = { ...existing.group, tests: [...existing.group.tests, ...group.tests] };
    else byKey.set(id, { group, ...plan });
  }
  // Under the cap: the group with the most vectors, then groups spread evenly over the file (which
  // keeps related edge cases together), so special public keys are sampled too.
  const all = [...byKey.values()];
  const largest = all.reduce((a, b) => (b.group.tests.length > a.group.tests.length ? b : a), all[0]!);
  const rest = all.filter((r) => r !== largest);
  const slots = Math.max(0, Math.min(rest.length, KEYS_PER_FILE - 1));
  const picked = new Set(
    Array.from({ length: slots }, (_, i) => rest[Math.floor((i * rest.length) / slots)]!),
  );
  filePlan.runnable = all.length ? [largest, ...picked] : [];
  for (const extra of rest.filter((r) => !picked.has(r))) {
    skip(
      filePlan,
      `over the cap of ${KEYS_PER_FILE} imported keys per file (WYCHEPROOF_KEYS_PER_FILE)`,
      extra.group,
    );
  }
  return filePlan;
}

const PLANS = VECTOR_FILES.map(loadPlan);

interface Outcome {
  checked: number;
  oversizedMessages: number;
  oversizedSignatureRefusals: number;
  acceptable: string[];
  failures: string[];
}

describe.each(keyStoreProfiles)(
  'Wycheproof signature vectors via POST /v1/verify ($name key store)',
  (profile) => {
    let suite: SuiteServer;
    let api: Api;

    beforeAll(async () => {
      suite = await startSuiteServer(profile);
      api = suite.api;
    });
    afterAll(async () => {
      await suite?.server.dispose();
    });

    async function runVectors(plan: FilePlan): Promise<Outcome> {
      const outcome: Outcome = {
        checked: 0,
        oversizedMessages: 0,
        oversizedSignatureRefusals: 0,
        acceptable: [],
        failures: [],
      };
      const keys = await mapConcurrent(plan.runnable, IMPORT_CONCURRENCY, (runnable) =>
        createImportedKey(
          api,
          { keySpec: runnable.keySpec, keyUsage: 'SIGN_VERIFY' },
          spkiOf(runnable.group),
          'PUBLIC_KEY',
        ),
      );
      const jobs = plan.runnable.flatMap((runnable, index) =>
        runnable.group.tests.flatMap((test) => {
          const message = Buffer.from(test.msg, 'hex');
          if (message.length > MAX_MESSAGE_BYTES) {
            outcome.oversizedMessages++;
            return [];
          }
          const modes: { messageType: 'RAW' | 'DIGEST'; message: Buffer }[] = [
            { messageType: 'RAW', message },
          ];
          if (runnable.digest) {
            modes.push({
              messageType: 'DIGEST',
              message: createHash(runnable.digest).update(message).digest(),
            });
          }
          return modes.map((mode) => ({ runnable, keyId: keys[index]!.keyId, test, ...mode }));
        }),
      );
      await mapConcurrent(jobs, VERIFY_CONCURRENCY, async (job) => {
        const signature = Buffer.from(job.test.sig, 'hex');
        const response: ApiResponse<ValidReply & ErrorBody> = await api.post('/v1/verify', {
          keyId: job.keyId,
          message: job.message.toString('base64'),
          messageType: job.messageType,
          signature: signature.toString('base64'),
          algorithm: job.runnable.algorithm,
        });
        outcome.checked++;
        const label = `tcId ${job.test.tcId} ${job.messageType} (${job.test.result}; ${job.test.comment}; ${job.test.flags.join(',')})`;
        if (response.status === 200) {
          const valid = response.body.valid;
          // "acceptable" vectors may go either way; their outcome is reported as an annotation.
          // (So far: RSA PKCS#1 v1.5 tcId 8, a DigestInfo without its NULL parameter, is refused.)
          if (job.test.result === 'acceptable') outcome.acceptable.push(`${label}: valid=${valid}`);
          else if (valid !== (job.test.result === 'valid')) outcome.failures.push(`${label}: valid=${valid}`);
          return;
        }
        const refusedOversize =
          response.status === 400 &&
          response.body?.error?.code === 'ValidationError' &&
          signature.length > MAX_SIGNATURE_BYTES &&
          job.test.result !== 'valid';
        if (refusedOversize) outcome.oversizedSignatureRefusals++;
        else outcome.failures.push(`${label}: HTTP ${response.status} ${response.text}`);
      });
      return outcome;
    }

    it('only the files outside AWS parameters have no vector that runs through the API', () => {
      const unrunnable = PLANS.filter((plan) => plan.runnable.length === 0);
      expect(
        unrunnable.map((plan) => plan.file),
        unrunnable.map((plan) => describeSkips(plan).join('; ')).join('\n'),
      ).toEqual(FILES_OUTSIDE_AWS_PARAMETERS);
    });

    for (const plan of PLANS) {
      if (plan.runnable.length === 0) continue;
      it(`${plan.file}: valid vectors verify, invalid ones answer valid:false, none answers 5xx`, async ({
        annotate,
      }) => {
        const outcome = await runVectors(plan);
        expect(outcome.failures.slice(0, 25), `${outcome.failures.length} vectors disagree`).toEqual([]);
        expect(outcome.checked).toBeGreaterThanOrEqual(MIN_VERIFY_CALLS[plan.file] ?? 1);
        const notes = [
          `${outcome.checked} verify calls over ${plan.runnable.length} imported keys`,
          // None of the current files has one; the API refuses them before verification, by design.
          ...(outcome.oversizedMessages
            ? [`${outcome.oversizedMessages} vectors skipped: message over ${MAX_MESSAGE_BYTES} bytes`]
            : []),
          ...(outcome.oversizedSignatureRefusals
            ? [
                `${outcome.oversizedSignatureRefusals} invalid vectors with signatures over ${MAX_SIGNATURE_BYTES} bytes answered 400 ValidationError`,
              ]
            : []),
          ...outcome.acceptable.map((a) => `acceptable: ${a}`),
          ...describeSkips(plan).map((reason) => `skipped: ${reason}`),
        ];
        for (const note of notes) await annotate(note);
      });
    }

    it('answered no request of this file with a 5xx (/metrics)', async () => {
      expect(await serverErrorLines(api)).toEqual([]);
    });
  },
);
