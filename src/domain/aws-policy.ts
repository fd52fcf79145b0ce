// Key policies in AWS's policy language (docs/aws.md "Key policies"): the translation of an AWS key
// policy into Keyhaven's (domain/policy.ts) for the part that means exactly the same thing, and a
// MalformedPolicyDocument naming whatever does not (an element, operator, condition key, principal
// or action). Pure: principals are looked up through the scope the caller gives.
//
// The one difference of model: AWS evaluates a key policy alone unless it delegates to the
// account's IAM policies (an Allow of kms:* to arn:aws:iam::<account>:root); Keyhaven always
// evaluates a key policy together with the principal's own, tenant and role policies. So a policy is
// taken only when it delegates so (as AWS's default key policy does): then both mean the same, and
// that statement itself adds nothing in Keyhaven.
import { parsePrincipalArn } from './aws-account.js';
import { KmsError, malformedPolicyDocument } from './errors.js';
import type { PrincipalType } from './identity.js';
import {
  globMatches,
  parsePolicyDocument,
  parseRecipientAttestation,
  type Conditions,
  type ContextValueCondition,
  type PolicyDocument,
  type Statement,
} from './policy.js';

/** AWS's limit on a key policy (PutKeyPolicy, CreateKey `Policy`), in characters. */
export const AWS_POLICY_MAX_CHARS = 32768;

/** A key policy as AWS takes it, a JSON string (PutKeyPolicy, CreateKey): kept to be answered back. */
export class AwsPolicyText {
  constructor(readonly text: string) {}
}

export interface AwsPolicyScope {
  /** The tenant whose key the policy is for. */
  keyTenant: string;
  /** Account id -> tenant, for the accounts the policy may name: the key's tenant's and the caller's. */
  accounts: ReadonlyMap<string, string>;
  /** The key's ARN once the key exists (PutKeyPolicy); at CreateKey only "*" names the key. */
  keyArn?: string;
  findPrincipal(
    tenant: string,
    name: string,
  ): Promise<{ principalId: string; type: PrincipalType } | undefined>;
}

/**
 * Every AWS KMS permission, and the Keyhaven action the dialect authorizes it as (null: it never
 * meets a key policy here: it acts on no key, or the dialect does not serve it). `implied`: it
 * reveals or does nothing beyond the others of its Keyhaven action, so an Allow need not name it.
 * Every Keyhaven action named here is one of domain/actions.ts's (a unit test holds it so).
 */
export const AWS_PERMISSIONS: Readonly<
  Record<string, { keyhaven: string | null; also?: readonly string[]; implied?: true }>
> = {
  CancelKeyDeletion: { keyhaven: 'CancelKeyDeletion' },
  ConnectCustomKeyStore: { keyhaven: null },
  CreateAlias: { keyhaven: 'PutAlias' },
  CreateCustomKeyStore: { keyhaven: null },
  CreateGrant: { keyhaven: 'CreateGrant' },
  CreateKey: { keyhaven: null },
  // Keyhaven's own ways to the same use of the key (RSA, batches, key wrapping over REST) go with
  // AWS's permission for it: a Deny of kms:Decrypt denies UnwrapKey too, and an Allow allows it.
  Decrypt: { keyhaven: 'Decrypt', also: ['DecryptBatch', 'AsymmetricDecrypt', 'UnwrapKey'] },
  DeleteAlias: { keyhaven: 'DeleteAlias' },
  DeleteCustomKeyStore: { keyhaven: null },
  DeleteImportedKeyMaterial: { keyhaven: 'DeleteImportedKeyMaterial' },
  DeriveSharedSecret: { keyhaven: null },
  DescribeCustomKeyStores: { keyhaven: null },
  DescribeKey: { keyhaven: 'DescribeKey', also: ['GetKeyUsage'] },
  DisableKey: { keyhaven: 'DisableKey' },
  DisableKeyRotation: { keyhaven: 'UpdateKey' },
  DisconnectCustomKeyStore: { keyhaven: null },
  EnableKey: { keyhaven: 'EnableKey' },
  EnableKeyRotation: { keyhaven: 'UpdateKey' },
  Encrypt: { keyhaven: 'Encrypt', also: ['EncryptBatch', 'AsymmetricEncrypt', 'WrapKey'] },
  // HKDF derivation hands out key material made from the key, as a data key is.
  GenerateDataKey: { keyhaven: 'GenerateDataKey', also: ['DeriveKey'] },
  GenerateDataKeyPair: { keyhaven: 'GenerateDataKeyPair' },
  GenerateDataKeyPairWithoutPlaintext: { keyhaven: 'GenerateDataKeyPair', implied: true },
  GenerateDataKeyWithoutPlaintext: { keyhaven: 'GenerateDataKey', implied: true },
  GenerateMac: { keyhaven: 'GenerateMac' },
  GenerateRandom: { keyhaven: null },
  GetKeyPolicy: { keyhaven: 'GetKeyPolicy' },
  // Keyhaven's DescribeKey answers a key's tags and rotation period already.
  GetKeyRotationStatus: { keyhaven: 'DescribeKey', implied: true },
  GetParametersForImport: { keyhaven: 'GetImportParameters' },
  GetPublicKey: { keyhaven: 'GetPublicKey' },
  ImportKeyMaterial: { keyhaven: 'ImportKeyMaterial' },
  ListAliases: { keyhaven: 'ListAliases' },
  ListGrants: { keyhaven: 'ListGrants' },
  ListKeyPolicies: { keyhaven: 'GetKeyPolicy', implied: true },
  ListKeyRotations: { keyhaven: 'ListKeyVersions' },
  ListKeys: { keyhaven: null },
  ListResourceTags: { keyhaven: 'DescribeKey', implied: true },
  ListRetirableGrants: { keyhaven: null },
  PutKeyPolicy: { keyhaven: 'PutKeyPolicy' },
  ReEncryptFrom: { keyhaven: 'ReEncrypt' },
  ReEncryptTo: { keyhaven: 'ReEncrypt' },
  ReplicateKey: { keyhaven: null },
  RetireGrant: { keyhaven: 'RetireGrant' },
  RevokeGrant: { keyhaven: 'RevokeGrant' },
  RotateKeyOnDemand: { keyhaven: 'RotateKey' },
  ScheduleKeyDeletion: { keyhaven: 'ScheduleKeyDeletion' },
  Sign: { keyhaven: 'Sign' },
  SynchronizeMultiRegionKey: { keyhaven: null },
  TagResource: { keyhaven: 'UpdateKey' },
  UntagResource: { keyhaven: 'UpdateKey' },
  UpdateAlias: { keyhaven: 'PutAlias' },
  UpdateCustomKeyStore: { keyhaven: null },
  UpdateKeyDescription: { keyhaven: 'UpdateKey' },
  UpdatePrimaryRegion: { keyhaven: null },
  Verify: { keyhaven: 'Verify' },
  VerifyMac: { keyhaven: 'VerifyMac' },
};

const PERMISSION_NAMES = Object.keys(AWS_PERMISSIONS);

/** The Keyhaven action an AWS permission is authorized as; undefined for a name AWS does not have. */
export function keyhavenActionOf(permission: string): string | null | undefined {
  const name = PERMISSION_NAMES.find(
    (n) => n.toLowerCase() === permission.replace(/^kms:/i, '').toLowerCase(),
  );
  return name === undefined ? undefined : AWS_PERMISSIONS[name]!.keyhaven;
}

const MAX_STATEMENTS = 100;
const VERSIONS = ['2012-10-17', '2008-10-17'];
const ACCOUNT = /^\d{12}$/;
const ROOT_ARN = /^arn:aws:iam::(\d{12}):root$/;

/** Whether a JSON document is in AWS's policy language (its members are capitalised). */
export function isAwsPolicyDocument(input: unknown): boolean {
  return (
    typeof input === 'object' &&
    input !== null &&
    !Array.isArray(input) &&
    ['Version', 'Id', 'Statement'].some((k) => Object.hasOwn(input, k))
  );
}

/** The JSON an AWS policy text holds; MalformedPolicyDocument if it is not JSON. */
export function parseAwsPolicyText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw refuse('the policy is not valid JSON');
  }
}

/**
 * What a key without a key policy answers over AWS: AWS's own default key policy, which delegates
 * to the account's IAM policies. That is Keyhaven's meaning of no key policy: the principal's own,
 * tenant and role policies decide.
 */
export function defaultAwsKeyPolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

/** Translates an AWS key policy (parsed JSON) into Keyhaven's document, or refuses it. */
export async function translateAwsPolicy(input: unknown, scope: AwsPolicyScope): Promise<PolicyDocument> {
  const policy = object(input, 'the policy');
  onlyKeys(policy, ['Version', 'Id', 'Statement'], 'the policy');
  if (policy.Version !== undefined && !VERSIONS.includes(policy.Version as string)) {
    throw refuse(`Version must be "2012-10-17" (or "2008-10-17")`);
  }
  if (policy.Id !== undefined && typeof policy.Id !== 'string') throw refuse('Id must be a string');
  const raw = policy.Statement;
  const list: unknown[] = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0 || list.length > MAX_STATEMENTS) {
    throw refuse(`Statement must hold 1 to ${MAX_STATEMENTS} statements`);
  }
  const statements: Statement[] = [];
  let delegates = false;
  for (const [i, item] of list.entries()) {
    const translated = await translateStatement(item, `Statement[${i}]`, scope);
    delegates ||= translated.delegatesToTenant;
    if (translated.statement) statements.push(translated.statement);
  }
  if (!delegates) {
    const account = [...scope.accounts].find(([, tenant]) => tenant === scope.keyTenant)?.[0] ?? '';
    throw refuse(
      `the policy must allow kms:* to arn:aws:iam::${account}:root (AWS's "Enable IAM User Permissions"): ` +
        "Keyhaven evaluates a key policy together with the tenant's own policies, never alone",
    );
  }
  if (statements.length === 0) return { statements };
  try {
    // The values the translation passed on as they are (CIDRs) are checked where Keyhaven's are.
    return parsePolicyDocument({ statements });
  } catch (error) {
    if (error instanceof KmsError && error.code === 'ValidationError') {
      throw malformedPolicyDocument(error.message);
    }
    throw error;
  }
}

interface PrincipalEntry {
  pattern: string;
  /** The tenant the entry is of; null for "*". */
  tenant: string | null;
  root: boolean;
}

async function translateStatement(
  input: unknown,
  at: string,
  scope: AwsPolicyScope,
): Promise<{ statement: Statement | null; delegatesToTenant: boolean }> {
  const raw = object(input, at);
  for (const negated of ['NotPrincipal', 'NotAction', 'NotResource']) {
    if (Object.hasOwn(raw, negated)) throw refuse(`${at}: ${negated} is not supported`);
  }
  onlyKeys(raw, ['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition'], at);
  if (raw.Sid !== undefined && (typeof raw.Sid !== 'string' || raw.Sid.length > 128)) {
    throw refuse(`${at}.Sid must be a string of at most 128 characters`);
  }
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') throw refuse(`${at}.Effect must be "Allow" or "Deny"`);
  const allow = raw.Effect === 'Allow';
  if (raw.Principal === undefined) throw refuse(`${at}: a key policy statement needs a Principal`);
  const principals = await principalsOf(raw.Principal, `${at}.Principal`, scope);
  const permissions = permissionsOf(raw.Action, `${at}.Action`);
  checkResources(raw.Resource, `${at}.Resource`, scope);
  const condition =
    raw.Condition === undefined ? undefined : conditionsOf(raw.Condition, `${at}.Condition`, scope);

  let delegatesToTenant = false;
  let entries = principals;
  const roots = principals.filter((p) => p.root);
  if (allow && roots.length > 0) {
    if (permissions.size !== PERMISSION_NAMES.length || condition !== undefined) {
      throw refuse(
        `${at}: an Allow to an account's root delegates to the account's own policies; Keyhaven ` +
          'always applies them, so it must allow kms:* without a Condition',
      );
    }
    delegatesToTenant = roots.some((p) => p.tenant === scope.keyTenant);
    entries = principals.filter((p) => !p.root);
  }
  if (condition?.callerTenants) {
    const tenants = condition.callerTenants;
    entries = entries.flatMap((p) =>
      p.tenant === null
        ? tenants.map((t) => ({ pattern: `tenant:${t}`, tenant: t, root: false }))
        : tenants.includes(p.tenant)
          ? [p]
          : [],
    );
  }
  const actions = keyhavenActions(permissions, allow, at);
  const patterns = [...new Set(entries.map((p) => p.pattern))];
  // A statement that can match no Keyhaven request (no principal, no action served, a condition
  // no request meets) is left out: leaving it out is its meaning.
  if (patterns.length === 0 || actions.length === 0 || condition?.never) {
    return { statement: null, delegatesToTenant };
  }
  const statement: Statement = {
    effect: allow ? 'allow' : 'deny',
    principals: patterns,
    actions,
    resources: ['*'],
  };
  if (typeof raw.Sid === 'string' && raw.Sid.length > 0) statement.sid = raw.Sid;
  if (condition && Object.keys(condition.conditions).length > 0) statement.conditions = condition.conditions;
  return { statement, delegatesToTenant };
}

async function principalsOf(input: unknown, at: string, scope: AwsPolicyScope): Promise<PrincipalEntry[]> {
  if (input === '*') return [{ pattern: '*', tenant: null, root: false }];
  const raw = object(input, at);
  for (const kind of Object.keys(raw)) {
    if (kind !== 'AWS') throw refuse(`${at}: "${kind}" principals are not supported (only "AWS")`);
  }
  const entries: PrincipalEntry[] = [];
  for (const value of stringList(raw.AWS, `${at}.AWS`)) {
    if (value === '*') {
      entries.push({ pattern: '*', tenant: null, root: false });
      continue;
    }
    const root = ACCOUNT.test(value) ? value : ROOT_ARN.exec(value)?.[1];
    if (root !== undefined) {
      const tenant = tenantOf(root, at, scope);
      entries.push({ pattern: `tenant:${tenant}`, tenant, root: true });
      continue;
    }
    const identity = parsePrincipalArn(value);
    if (!identity) {
      throw refuse(`${at}: "${value}" is not "*", an account id, or an account's root, user or role ARN`);
    }
    const { account, type, name } = identity;
    const tenant = tenantOf(account, at, scope);
    const found = await scope.findPrincipal(tenant, name);
    if (!found || found.type !== type) {
      const kind = type === 'user' ? 'user' : 'role';
      throw refuse(
        `${at}: "${value}" names no principal: ${kind}/<name> names a ${type} principal of the account's tenant by name`,
      );
    }
    entries.push({ pattern: `principal:${found.principalId}`, tenant, root: false });
  }
  return entries;
}

function tenantOf(account: string, at: string, scope: AwsPolicyScope): string {
  const tenant = scope.accounts.get(account);
  if (tenant === undefined) {
    throw refuse(`${at}: account ${account} is not the account of this key's tenant (or of the caller's)`);
  }
  return tenant;
}

/** The AWS permissions a statement's Action names (wildcards expanded), by their canonical names. */
function permissionsOf(input: unknown, at: string): Set<string> {
  if (input === undefined) throw refuse(`${at}: a statement needs an Action`);
  const names = new Set<string>();
  for (const value of stringList(input, at)) {
    if (value !== '*' && !/^kms:[A-Za-z*?]+$/i.test(value)) {
      throw refuse(`${at}: "${value}" is not an AWS KMS action (kms:<Action>)`);
    }
    const pattern = (value === '*' ? '*' : value.slice(4)).toLowerCase();
    const matched = PERMISSION_NAMES.filter((name) => globMatches(pattern, name.toLowerCase()));
    if (matched.length === 0) throw refuse(`${at}: "${value}" names no AWS KMS action`);
    for (const name of matched) names.add(name);
  }
  return names;
}

/**
 * The Keyhaven actions the permissions are authorized as. An Allow must name every AWS permission
 * a Keyhaven action serves (but the implied ones): allowing kms:TagResource alone would allow
 * kms:UpdateKeyDescription too. A Deny of one denies them all, which is documented.
 */
function keyhavenActions(permissions: Set<string>, allow: boolean, at: string): string[] {
  const actions = new Set<string>();
  for (const name of permissions) for (const action of actionsOf(name)) actions.add(action);
  if (allow) {
    for (const action of actions) {
      const siblings = PERMISSION_NAMES.filter((n) => actionsOf(n).includes(action));
      const required = siblings.filter((n) => !AWS_PERMISSIONS[n]!.implied);
      const missing = required.filter((n) => !permissions.has(n));
      if (missing.length > 0) {
        const named = siblings.filter((n) => permissions.has(n)).map((n) => `kms:${n}`);
        throw refuse(
          `${at}: ${named.join(', ')} ${named.length > 1 ? 'are' : 'is'} authorized as Keyhaven's ${action}, ` +
            `which also serves ${missing.map((n) => `kms:${n}`).join(', ')}: an Allow must name them too`,
        );
      }
    }
  }
  return [...actions];
}

/** The Keyhaven actions one AWS permission is authorized as. */
function actionsOf(permission: string): readonly string[] {
  const { keyhaven, also = [] } = AWS_PERMISSIONS[permission]!;
  return keyhaven === null ? [] : [keyhaven, ...also];
}

function checkResources(input: unknown, at: string, scope: AwsPolicyScope): void {
  if (input === undefined) throw refuse(`${at}: a key policy statement needs a Resource ("*")`);
  for (const value of stringList(input, at)) {
    if (value !== '*' && value !== scope.keyArn) {
      throw refuse(`${at}: "${value}" is not this key: a key policy names its own key, as "*" or its ARN`);
    }
  }
}

interface TranslatedConditions {
  conditions: Conditions;
  /** kms:CallerAccount: the statement applies to callers of these tenants only. */
  callerTenants?: string[];
  /** A condition no Keyhaven request meets (kms:ViaService: no request comes through an AWS service). */
  never?: boolean;
}

const CONTEXT_OPERATORS: Readonly<Record<string, Pick<ContextValueCondition, 'like' | 'negated'>>> = {
  StringEquals: {},
  StringLike: { like: true },
  StringNotEquals: { negated: true },
  StringNotLike: { like: true, negated: true },
};

function conditionsOf(input: unknown, at: string, scope: AwsPolicyScope): TranslatedConditions {
  const blocks = object(input, at);
  const result: TranslatedConditions = { conditions: {} };
  const conditions = result.conditions;
  for (const [operator, block] of Object.entries(blocks)) {
    for (const [name, value] of Object.entries(object(block, `${at}.${operator}`))) {
      const where = `${at}.${operator}["${name}"]`;
      const values = stringList(value, where);
      const key = name.toLowerCase();
      const unsupported = () => refuse(`${where}: the operator ${operator} is not supported with ${name}`);
      if (key.startsWith('kms:encryptioncontext:') && name.length > 'kms:EncryptionContext:'.length) {
        const flags = Object.hasOwn(CONTEXT_OPERATORS, operator) ? CONTEXT_OPERATORS[operator] : undefined;
        if (!flags) throw unsupported();
        (conditions.contextValues ??= []).push({
          key: name.slice('kms:EncryptionContext:'.length),
          values,
          ...flags,
        });
      } else if (key === 'kms:encryptioncontextkeys') {
        const field =
          operator === 'ForAllValues:StringEquals'
            ? 'allOf'
            : operator === 'ForAnyValue:StringEquals'
              ? 'anyOf'
              : undefined;
        if (!field) throw unsupported();
        conditions.contextKeys ??= {};
        if (conditions.contextKeys[field]) throw refuse(`${where}: given twice`);
        conditions.contextKeys[field] = values;
      } else if (key === 'aws:sourceip') {
        const field =
          operator === 'IpAddress' ? 'sourceIp' : operator === 'NotIpAddress' ? 'notSourceIp' : undefined;
        if (!field) throw unsupported();
        if (conditions[field]) throw refuse(`${where}: given twice`);
        conditions[field] = values;
      } else if (key === 'kms:calleraccount') {
        if (operator !== 'StringEquals') throw unsupported();
        if (result.callerTenants) throw refuse(`${where}: given twice`);
        result.callerTenants = values.map((account) => {
          if (!ACCOUNT.test(account)) throw refuse(`${where}: "${account}" is not an account id`);
          return tenantOf(account, where, scope);
        });
      } else if (key.startsWith('kms:recipientattestation:')) {
        // AWS documents StringEqualsIgnoreCase for these; the digests are hex, so both compare alike.
        if (operator !== 'StringEqualsIgnoreCase' && operator !== 'StringEquals') throw unsupported();
        const pcr = name.slice('kms:RecipientAttestation:'.length);
        conditions.recipientAttestation ??= {};
        if (conditions.recipientAttestation[pcr]) throw refuse(`${where}: given twice`);
        Object.assign(
          conditions.recipientAttestation,
          parseRecipientAttestation({ [pcr]: values }, where, refuse),
        );
      } else if (key === 'keyhaven:recipientbound') {
        // Keyhaven's own key (AWS has none for a plain public-key recipient): docs/policies.md.
        if (operator !== 'Bool' || values.length !== 1 || !['true', 'false'].includes(values[0]!))
          throw refuse(`${where}: use Bool with "true" or "false"`);
        if (conditions.recipientBound !== undefined) throw refuse(`${where}: given twice`);
        conditions.recipientBound = values[0] === 'true';
      } else if (key === 'kms:viaservice') {
        if (operator === 'StringEquals' || operator === 'StringLike') result.never = true;
        else if (operator !== 'StringNotEquals' && operator !== 'StringNotLike') throw unsupported();
      } else {
        throw refuse(`${where}: the condition key ${name} is not supported`);
      }
    }
  }
  return result;
}

const refuse = (message: string) => malformedPolicyDocument(`malformed policy: ${message}`);

function object(input: unknown, at: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw refuse(`${at} must be an object`);
  return input as Record<string, unknown>;
}

function onlyKeys(input: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) throw refuse(`${at}: "${key}" is not supported`);
  }
}

function stringList(input: unknown, at: string): string[] {
  const list = Array.isArray(input) ? input : [input];
  if (
    list.length === 0 ||
    list.length > 100 ||
    !list.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 2048)
  ) {
    throw refuse(`${at} must be a string or a list of 1 to 100 strings`);
  }
  return list as string[];
}
