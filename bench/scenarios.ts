// The measured operations: key setup over the real REST API, a one-request correctness check per
// operation, and the pre-encoded requests the load generator replays.
import { randomBytes } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { envelopeScenarios, type InProcessWork } from './envelope.js';
import { encodeRequest } from './load.js';
import type { BenchProcess, KeyhavenProcess } from './processes.js';

export const OPERATIONS = [
  'baseline',
  'aead-floor',
  'encrypt',
  'aws-encrypt',
  'decrypt',
  'datakey',
  'sign',
  'verify',
  'create-key',
  'envelope-encrypt',
  'envelope-decrypt',
  'envelope-decrypt-cached',
  'hsm-encrypt',
  'hsm-sign',
  'external-encrypt',
] as const;
export type Operation = (typeof OPERATIONS)[number];
/** Operations served by the second server, on the pkcs11 key store (SoftHSM2). */
export const HSM_OPERATIONS: readonly Operation[] = ['hsm-encrypt', 'hsm-sign'];
/** Operations served by a server whose EXTERNAL keys are held by a provider process (docs/external-keys.md). */
export const EXTERNAL_OPERATIONS: readonly Operation[] = ['external-encrypt'];

/** The reference server for EXTERNAL rows, and the provider process behind it. */
export interface ExternalSetup {
  server: KeyhavenProcess;
  provider: BenchProcess;
}

export interface Scenario {
  operation: Operation;
  /** The variant (bench/variants.ts) whose server runs it; absent on the reference servers. */
  variant?: string;
  description: string;
  /** The server the scenario was set up on and checked against; the load goes to `nodes`. */
  target: BenchProcess;
  /**
   * The processes the load is spread over, connection by connection (the nodes of a cluster on one
   * database, `target` first); absent: `target` alone.
   */
  nodes?: BenchProcess[];
  /** A database server the nodes use (PostgreSQL): its CPU counts with the nodes' per request. */
  database?: { cpuTimeMs(): number | undefined };
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  bodies: unknown[];
  expectStatus: number;
  /** Fields every successful response body must have. */
  expectFields: string[];
  /** A further check of the first response; returns what is wrong, if anything. */
  check?: (body: Json) => string | undefined;
  /**
   * Requests signed with SigV4 (the AWS dialect): the headers of one body, signed now. Signatures
   * expire (aws.signatureSkewSeconds), so such a scenario is encoded afresh for every cell.
   */
  sign?: (payload: string) => Promise<Record<string, string>>;
  /** The body's content type (default application/json). */
  contentType?: string;
  /**
   * Measured in this process instead of replayed over HTTP (the envelope rows: the integration
   * library's calls, bench/envelope.ts); method, path and bodies are then placeholders.
   */
  inProcess?: InProcessWork;
}

/** Distinct payloads per operation, so requests are not byte-for-byte identical. */
const POOL_SIZE = 16;
const CONTEXT = { purpose: 'benchmark', tenant: 'acme' };

type Json = Record<string, unknown>;

async function call(
  process: BenchProcess,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${process.url}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, json };
}

async function must(
  process: BenchProcess,
  path: string,
  headers: Record<string, string>,
  body: unknown,
  status = 200,
  method = 'POST',
): Promise<Json> {
  const result = await call(process, method, path, headers, body);
  if (result.status !== status) {
    throw new Error(`setup: ${method} ${path} returned ${result.status}: ${JSON.stringify(result.json)}`);
  }
  return result.json;
}

const b64 = (bytes: Buffer) => bytes.toString('base64');

export interface HsmKeys {
  /** HSM SYMMETRIC_DEFAULT key (the token object is labelled `keyhaven/<keyId>/v1`). */
  encryptKeyId: string;
  /** HSM ECC_NIST_P256 SIGN_VERIFY key. */
  signKeyId: string;
}

/** 256-byte plaintexts (base64), one per request of a pool. */
const newPlaintexts = () => Array.from({ length: POOL_SIZE }, () => b64(randomBytes(256)));

const keyhavenScenario = (
  target: KeyhavenProcess,
  operation: Operation,
  description: string,
  path: string,
  bodies: unknown[],
  expectFields: string[],
  expectStatus = 200,
): Scenario => ({
  operation,
  description,
  target,
  method: 'POST',
  path,
  headers: { Authorization: `Bearer ${target.token}` },
  bodies,
  expectStatus,
  expectFields,
});

/**
 * The encrypt scenario's requests in the AWS dialect: `TrentService.Encrypt` over AWS JSON 1.1,
 * signed with SigV4 by the AWS SDK's own signer as the bootstrap admin's access key pair.
 */
function awsEncryptScenario(target: KeyhavenProcess, keyId: string, plaintexts: string[]): Scenario {
  const signer = new SignatureV4({
    credentials: target.accessKey,
    region: 'us-east-1',
    service: 'kms',
    sha256: Hash.bind(null, 'sha256'),
  });
  return {
    operation: 'aws-encrypt',
    description: 'AWS dialect POST / TrentService.Encrypt, SigV4-signed, the same plaintexts and context',
    target,
    method: 'POST',
    path: '/',
    headers: {},
    bodies: plaintexts.map((plaintext) => ({
      KeyId: keyId,
      Plaintext: plaintext,
      EncryptionContext: CONTEXT,
    })),
    expectStatus: 200,
    expectFields: ['CiphertextBlob', 'KeyId'],
    contentType: AWS_JSON,
    async sign(payload) {
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: target.host,
        port: target.port,
        path: '/',
        headers: {
          host: `${target.host}:${target.port}`,
          'content-type': AWS_JSON,
          'x-amz-target': 'TrentService.Encrypt',
        },
        body: payload,
      });
      const headers = { ...(signed.headers as Record<string, string>) };
      // The encoder writes these two itself.
      delete headers.host;
      delete headers['content-type'];
      return headers;
    },
  };
}

const AWS_JSON = 'application/x-amz-json-1.1';

/** Creates a SOFTWARE AES key, a P-256 and an RSA-2048 signing key on `keyhaven` and builds its SOFTWARE scenarios. */
async function softwareScenarios(
  keyhaven: KeyhavenProcess,
  plaintexts: string[],
): Promise<{ scenarios: Scenario[]; symmetricKeyId: string; signingKeyId: string }> {
  const auth = { Authorization: `Bearer ${keyhaven.token}` };
  const createKey = async (body: Json) =>
    ((await must(keyhaven, '/v1/keys', auth, body, 201)).key as Json).keyId as string;
  const symmetricKeyId = await createKey({ keySpec: 'SYMMETRIC_DEFAULT' });
  const signingKeyId = await createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
  // Verify under an RSA-2048 key: what a request costs beyond the RSA verify itself (46 µs alone).
  const verifyKeyId = await createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
  const signed: Json[] = [];
  for (const message of plaintexts) {
    const { signature } = await must(keyhaven, '/v1/sign', auth, {
      keyId: verifyKeyId,
      message,
      messageType: 'RAW',
      algorithm: 'RSASSA_PSS_SHA_256',
    });
    signed.push({
      keyId: verifyKeyId,
      message,
      messageType: 'RAW',
      algorithm: 'RSASSA_PSS_SHA_256',
      signature,
    });
  }
  const checked = await must(keyhaven, '/v1/verify', auth, signed[0]!);
  if (checked.valid !== true) throw new Error('setup: verify did not accept the signature just made');

  const ciphertexts: string[] = [];
  for (const plaintext of plaintexts) {
    const sealed = await must(keyhaven, '/v1/encrypt', auth, {
      keyId: symmetricKeyId,
      plaintext,
      context: CONTEXT,
    });
    ciphertexts.push(sealed.ciphertext as string);
  }
  // Round trip once: the decrypt scenario must measure real work, not an error path.
  const opened = await must(keyhaven, '/v1/decrypt', auth, { ciphertext: ciphertexts[0], context: CONTEXT });
  if (opened.plaintext !== plaintexts[0]) throw new Error('setup: decrypt did not return the plaintext');

  const scenarios = [
    keyhavenScenario(
      keyhaven,
      'encrypt',
      'POST /v1/encrypt, 256-byte plaintext with a context',
      '/v1/encrypt',
      plaintexts.map((plaintext) => ({ keyId: symmetricKeyId, plaintext, context: CONTEXT })),
      ['keyId', 'keyVersion', 'ciphertext'],
    ),
    awsEncryptScenario(keyhaven, symmetricKeyId, plaintexts),
    keyhavenScenario(
      keyhaven,
      'decrypt',
      'POST /v1/decrypt of those ciphertexts',
      '/v1/decrypt',
      ciphertexts.map((ciphertext) => ({ ciphertext, context: CONTEXT })),
      ['keyId', 'keyVersion', 'plaintext'],
    ),
    keyhavenScenario(
      keyhaven,
      'datakey',
      'POST /v1/datakey AES_256 with a context',
      '/v1/datakey',
      [{ keyId: symmetricKeyId, keySpec: 'AES_256', context: CONTEXT }],
      ['keyId', 'ciphertext', 'plaintext'],
    ),
    keyhavenScenario(
      keyhaven,
      'sign',
      'POST /v1/sign ECDSA_SHA_256 (P-256), RAW 256-byte message',
      '/v1/sign',
      plaintexts.map((message) => ({
        keyId: signingKeyId,
        message,
        messageType: 'RAW',
        algorithm: 'ECDSA_SHA_256',
      })),
      ['keyId', 'signature'],
    ),
    keyhavenScenario(
      keyhaven,
      'verify',
      'POST /v1/verify RSASSA_PSS_SHA_256 (RSA-2048), RAW 256-byte message',
      '/v1/verify',
      signed,
      ['valid'],
    ),
    keyhavenScenario(
      keyhaven,
      'create-key',
      'POST /v1/keys SYMMETRIC_DEFAULT',
      '/v1/keys',
      [{ keySpec: 'SYMMETRIC_DEFAULT' }],
      ['key'],
      201,
    ),
  ];
  return { scenarios, symmetricKeyId, signingKeyId };
}

/** Creates HSM keys on `hsm` (a server on the pkcs11 key store), checks a round trip, builds its scenarios. */
async function hsmScenarios(
  hsm: KeyhavenProcess,
  plaintexts: string[],
): Promise<{ scenarios: Scenario[]; hsmKeys: HsmKeys }> {
  const hsmAuth = { Authorization: `Bearer ${hsm.token}` };
  const createHsmKey = async (body: Json) => {
    const reply = await must(hsm, '/v1/keys', hsmAuth, { ...body, protectionLevel: 'HSM' }, 201);
    const key = reply.key as Json;
    if (key.protectionLevel !== 'HSM') {
      throw new Error(`setup: an HSM key was created as ${String(key.protectionLevel)}`);
    }
    return key.keyId as string;
  };
  const hsmKeys: HsmKeys = {
    encryptKeyId: await createHsmKey({ keySpec: 'SYMMETRIC_DEFAULT' }),
    signKeyId: await createHsmKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' }),
  };
  const sealed = await must(hsm, '/v1/encrypt', hsmAuth, {
    keyId: hsmKeys.encryptKeyId,
    plaintext: plaintexts[0],
    context: CONTEXT,
  });
  const hsmOpened = await must(hsm, '/v1/decrypt', hsmAuth, {
    ciphertext: sealed.ciphertext,
    context: CONTEXT,
  });
  if (hsmOpened.plaintext !== plaintexts[0])
    throw new Error('setup: HSM decrypt did not return the plaintext');
  const { encryptKeyId, signKeyId } = hsmKeys;
  const scenarios = [
    keyhavenScenario(
      hsm,
      'hsm-encrypt',
      'POST /v1/encrypt, HSM SYMMETRIC_DEFAULT key (SoftHSM2), 256-byte plaintext with a context',
      '/v1/encrypt',
      plaintexts.map((plaintext) => ({ keyId: encryptKeyId, plaintext, context: CONTEXT })),
      ['keyId', 'keyVersion', 'ciphertext'],
    ),
    keyhavenScenario(
      hsm,
      'hsm-sign',
      'POST /v1/sign, HSM ECC_NIST_P256 key (SoftHSM2), ECDSA_SHA_256, RAW 256-byte message',
      '/v1/sign',
      plaintexts.map((message) => ({
        keyId: signKeyId,
        message,
        messageType: 'RAW',
        algorithm: 'ECDSA_SHA_256',
      })),
      ['keyId', 'signature'],
    ),
  ];
  return { scenarios, hsmKeys };
}

/**
 * Creates an EXTERNAL key on `external.server`, checks a round trip, and builds its encrypt row: the
 * provider process's CPU counts with the server's per request (as a database's does).
 */
async function externalScenarios(external: ExternalSetup, plaintexts: string[]): Promise<Scenario[]> {
  const { server, provider } = external;
  const auth = { Authorization: `Bearer ${server.token}` };
  const created = await must(server, '/v1/keys', auth, { protectionLevel: 'EXTERNAL' }, 201);
  const key = created.key as Json;
  if (key.protectionLevel !== 'EXTERNAL') {
    throw new Error(`setup: an EXTERNAL key was created as ${String(key.protectionLevel)}`);
  }
  const keyId = key.keyId as string;
  const sealed = await must(server, '/v1/encrypt', auth, {
    keyId,
    plaintext: plaintexts[0],
    context: CONTEXT,
  });
  const opened = await must(server, '/v1/decrypt', auth, { ciphertext: sealed.ciphertext, context: CONTEXT });
  if (opened.plaintext !== plaintexts[0])
    throw new Error('setup: EXTERNAL decrypt did not return the plaintext');
  return [
    {
      ...keyhavenScenario(
        server,
        'external-encrypt',
        'POST /v1/encrypt, EXTERNAL key at two providers (one Keyhaven process, via REST and via its AWS dialect), 256-byte plaintext with a context',
        '/v1/encrypt',
        plaintexts.map((plaintext) => ({ keyId, plaintext, context: CONTEXT })),
        ['keyId', 'keyVersion', 'ciphertext'],
      ),
      database: { cpuTimeMs: () => provider.cpuTimeMs() },
    },
  ];
}

/**
 * Creates the benchmark keys and builds every scenario; with `hsm` (a server on the pkcs11 key store)
 * also the HSM scenarios, whose keys are returned for the raw ceiling measurement; with `external`
 * the EXTERNAL-key row.
 */
export async function buildScenarios(
  keyhaven: KeyhavenProcess,
  baseline: BenchProcess,
  hsm?: KeyhavenProcess,
  external?: ExternalSetup,
): Promise<{ scenarios: Scenario[]; hsmKeys?: HsmKeys }> {
  const plaintexts = newPlaintexts();
  const software = await softwareScenarios(keyhaven, plaintexts);
  const onHsm = hsm ? await hsmScenarios(hsm, plaintexts) : undefined;
  const onExternal = external ? await externalScenarios(external, plaintexts) : [];

  // The baseline server's routes get the encrypt scenario's request bytes (Authorization included).
  const baselineScenario = (
    operation: Operation,
    description: string,
    path: string,
    field: string,
    check?: Scenario['check'],
  ): Scenario => ({
    operation,
    description,
    target: baseline,
    method: 'POST' as const,
    path,
    headers: { Authorization: `Bearer ${keyhaven.token}` },
    bodies: plaintexts.map((plaintext) => ({ keyId: software.symmetricKeyId, plaintext, context: CONTEXT })),
    expectStatus: 200,
    expectFields: ['keyId', field],
    ...(check ? { check } : {}),
  });

  const scenarios: Scenario[] = [
    baselineScenario('baseline', 'bare Fastify POST /echo, encrypt-shaped body', '/echo', 'length'),
    baselineScenario(
      'aead-floor',
      'bare Fastify POST /aead: the encrypt request, base64 + one AES-256-GCM seal, nothing else',
      '/aead',
      'ciphertext',
      // IV + a ciphertext as long as the plaintext + tag: the floor must really seal the plaintext.
      (body) =>
        Buffer.from(String(body.ciphertext), 'base64').length === 12 + 256 + 16
          ? undefined
          : 'the AEAD floor did not return IV + 256 bytes + tag',
    ),
    ...software.scenarios,
    ...(await envelopeScenarios(keyhaven)),
    ...(onHsm?.scenarios ?? []),
    ...onExternal,
  ];
  return onHsm ? { scenarios, hsmKeys: onHsm.hsmKeys } : { scenarios };
}

/** Who a variant's load runs as, when not as the bootstrap admin (bench/variants.ts). */
export interface BenchPrincipal {
  /** The principal's roles (the built-in ones: admin, key-admin, crypto-user, auditor). */
  roles: string[];
  /** Also give each bench key a policy allowing this principal the measured operations. */
  keyPolicy?: boolean;
}

/** The actions of the measured operations: what a bench key policy allows its principal. */
export const MEASURED_ACTIONS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'Sign'];

/**
 * Creates a principal (as the bootstrap admin) and an API key for it, with `keyPolicy` a policy on
 * each of `keyIds` allowing it the measured operations; returns the API key's secret.
 */
async function createPrincipal(
  server: KeyhavenProcess,
  name: string,
  principal: BenchPrincipal,
  keyIds: readonly string[],
): Promise<string> {
  const auth = { Authorization: `Bearer ${server.token}` };
  const created = await must(
    server,
    '/v1/principals',
    auth,
    { name, type: 'service', roles: principal.roles },
    201,
  );
  const principalId = (created.principal as Json).principalId as string;
  const { secret } = await must(server, `/v1/principals/${principalId}/api-keys`, auth, {}, 201);
  if (principal.keyPolicy) {
    for (const keyId of keyIds) {
      const statement = {
        sid: 'bench-principal-operations',
        effect: 'allow',
        principals: [`principal:${principalId}`],
        actions: MEASURED_ACTIONS,
        resources: [`key:${keyId}`],
      };
      await must(
        server,
        `/v1/keys/${keyId}/policy`,
        auth,
        { document: { statements: [statement] } },
        200,
        'PUT',
      );
    }
  }
  return secret as string;
}

/**
 * The scenarios of a variant server: its own keys, the same requests as on the reference server
 * (a SOFTWARE one, or one on the pkcs11 key store for the HSM operations), tagged with the variant;
 * with `principal`, sent with the API key of a principal created for them instead of the admin's.
 */
export async function buildVariantScenarios(
  server: KeyhavenProcess,
  variant: string,
  operations: readonly Operation[],
  principal?: BenchPrincipal,
): Promise<Scenario[]> {
  const plaintexts = newPlaintexts();
  const software = operations.some((op) => !HSM_OPERATIONS.includes(op))
    ? await softwareScenarios(server, plaintexts)
    : undefined;
  const onHsm = operations.some((op) => HSM_OPERATIONS.includes(op))
    ? await hsmScenarios(server, plaintexts)
    : undefined;
  const keyIds = [
    ...(software ? [software.symmetricKeyId, software.signingKeyId] : []),
    ...(onHsm ? [onHsm.hsmKeys.encryptKeyId, onHsm.hsmKeys.signKeyId] : []),
  ];
  const headers = principal
    ? { Authorization: `Bearer ${await createPrincipal(server, `bench ${variant}`, principal, keyIds)}` }
    : undefined;
  return [...(software?.scenarios ?? []), ...(onHsm?.scenarios ?? [])]
    .filter((scenario) => operations.includes(scenario.operation))
    .map((scenario) => ({ ...scenario, variant, ...(headers ? { headers } : {}) }));
}

/** The scenario's row in the report: the operation, and `@variant` on a variant server. */
export const rowLabel = (scenario: Pick<Scenario, 'operation' | 'variant'>): string =>
  scenario.variant ? `${scenario.operation}@${scenario.variant}` : scenario.operation;

/** The processes a scenario's load goes to: its nodes, or its target alone. */
export const nodesOf = (scenario: Scenario): BenchProcess[] => scenario.nodes ?? [scenario.target];

/**
 * `count` request bodies like the scenario's (cycling through its payloads), each naming a key
 * drawn at random from `keyIds` (with replacement): a pool in which consecutive requests use
 * unrelated keys, so a store of many keys is really looked up, not one cached key.
 */
export function spreadOverKeys(
  bodies: readonly unknown[],
  keyIds: readonly string[],
  count: number,
  random: () => number = Math.random,
): unknown[] {
  if (keyIds.length === 0 || bodies.length === 0) throw new Error('spreadOverKeys needs keys and bodies');
  return Array.from({ length: count }, (_, i) => ({
    ...(bodies[i % bodies.length] as Json),
    keyId: keyIds[Math.min(keyIds.length - 1, Math.floor(random() * keyIds.length))],
  }));
}

/**
 * Sends one request of the scenario to every node it spreads over and checks each answer: the
 * nodes of a cluster must all serve the keys set up on the first.
 */
export async function preflightNodes(scenario: Scenario): Promise<void> {
  // In-process rows checked their round trip when they were built.
  if (scenario.inProcess) return;
  for (const node of nodesOf(scenario)) {
    try {
      await preflight({ ...scenario, target: node });
    } catch (error) {
      throw new Error(`${node.name}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Sends one request of the scenario and checks its status and response fields. */
export async function preflight(scenario: Scenario): Promise<void> {
  const result = scenario.sign
    ? await callSigned(scenario)
    : await call(scenario.target, scenario.method, scenario.path, scenario.headers, scenario.bodies[0]);
  const missing = scenario.expectFields.filter((field) => !(field in result.json));
  if (result.status !== scenario.expectStatus || missing.length > 0) {
    throw new Error(
      `${rowLabel(scenario)}: expected ${scenario.expectStatus} with ${scenario.expectFields.join(', ')}, ` +
        `got ${result.status}: ${JSON.stringify(result.json).slice(0, 300)}`,
    );
  }
  const wrong = scenario.check?.(result.json);
  if (wrong) throw new Error(`${rowLabel(scenario)}: ${wrong}`);
}

async function callSigned(scenario: Scenario): Promise<{ status: number; json: Json }> {
  const payload = JSON.stringify(scenario.bodies[0]);
  const response = await fetch(`${scenario.target.url}${scenario.path}`, {
    method: scenario.method,
    headers: {
      ...(await scenario.sign!(payload)),
      'content-type': scenario.contentType ?? 'application/json',
    },
    body: payload,
  });
  const text = await response.text();
  try {
    return { status: response.status, json: JSON.parse(text) as Json };
  } catch {
    return { status: response.status, json: { raw: text } };
  }
}

/** The scenario's requests to `node` (default its target) as bytes on the wire; signed ones signed now. */
export async function encodeScenario(scenario: Scenario, node = scenario.target): Promise<Buffer[]> {
  const { host, port } = node;
  return Promise.all(
    scenario.bodies.map(async (body) => {
      const headers = scenario.sign ? await scenario.sign(JSON.stringify(body)) : scenario.headers;
      return encodeRequest(scenario.method, host, port, scenario.path, headers, body, scenario.contentType);
    }),
  );
}
