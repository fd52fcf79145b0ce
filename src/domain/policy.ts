// Policy documents and their evaluation (API.md "Identity, policy, tenants, audit"): pure functions,
// no I/O. A document is a list of statements; a request is allowed when some statement allows it
// and none denies it (default deny, explicit deny overrides allow). The decision names the statement
// that decided, for `POST /v1/simulate` and the audit log.
import { BlockList, isIP } from 'node:net';
import { validationError } from './errors.js';
import type { EncryptionContext } from './encryption-context.js';
import { pcrIndexOf, recipientAttestationValue, type RecipientFacts } from './recipient.js';

export type Effect = 'allow' | 'deny';

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface TimeWindow {
  days?: Weekday[];
  /** "HH:MM", local to timeZone; a window whose end is before its start runs over midnight. */
  start: string;
  end: string;
  /** An IANA time zone, e.g. "Europe/Paris". */
  timeZone: string;
}

/**
 * An encryption-context pair matched as AWS's `kms:EncryptionContext:<key>` is: the key's name
 * compared ignoring case, its value exactly (`like`: with `*` and `?` wildcards); the condition holds
 * when the request has the key with one of the values. `negated` (StringNotEquals, StringNotLike)
 * holds when it has not, a request without the key included.
 */
export interface ContextValueCondition {
  key: string;
  values: string[];
  like?: boolean;
  negated?: boolean;
}

/** The names of the request's encryption-context keys, as AWS's ForAllValues / ForAnyValue test them. */
export interface ContextKeysCondition {
  /** Every key of the request is one of these (true for a request without a context, as on AWS). */
  allOf?: string[];
  /** At least one key of the request is one of these. */
  anyOf?: string[];
}

export interface Conditions {
  sourceIp?: string[];
  /** The request's address is in none of these CIDRs (AWS's NotIpAddress). */
  notSourceIp?: string[];
  contextValues?: ContextValueCondition[];
  contextKeys?: ContextKeysCondition;
  timeWindow?: TimeWindow;
  /** The request's encryption context must hold each pair; "*" accepts any value of the key. */
  context?: Record<string, string>;
  keyTags?: Record<string, string>;
  principalAttributes?: Record<string, string>;
  /**
   * true: the request's result must be sealed to a recipient (domain/recipient.ts); false: it must
   * not be. AWS policies say it as `Bool {"keyhaven:RecipientBound": "true"}`.
   */
  recipientBound?: boolean;
  /**
   * The recipient came in a verified attestation document whose PCRs have one of these values
   * (hex, compared ignoring case), by name: `ImageSha384` (PCR0) or `PCR<n>`. AWS's
   * `kms:RecipientAttestation:ImageSha384` and `kms:RecipientAttestation:PCR<n>`.
   */
  recipientAttestation?: Record<string, string[]>;
}

export interface Statement {
  sid?: string;
  effect: Effect;
  principals: string[];
  actions: string[];
  resources: string[];
  conditions?: Conditions;
}

export interface PolicyDocument {
  statements: Statement[];
}

/** What a decision is about: who asks, for what, on which key, with what, from where, when. */
export interface AccessRequest {
  principal: {
    id: string;
    tenant: string;
    roles: readonly string[];
    attributes: Readonly<Record<string, string>>;
  };
  action: string;
  /** The recipient the result is sealed to, when it is (RequestFacts.recipient). */
  recipient?: RecipientFacts;
  /** The key acted on; absent for actions on no key (CreateKey, ListKeys, GenerateRandom...). */
  key?: { keyId: string; aliases: readonly string[]; tags: Readonly<Record<string, string>> };
  context?: EncryptionContext;
  sourceIp: string;
  at: Date;
}

export interface PolicyVersionRef {
  policyId: string;
  version: number;
}

export interface Decision {
  allowed: boolean;
  /** The statement that decided; null when nothing allowed (the default deny). */
  decidedBy: (PolicyVersionRef & { sid: string | null }) | null;
  reason: string;
}

const MAX_STATEMENTS = 100;
const MAX_ENTRIES = 100;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Checks a document's shape and every value (CIDRs, time zones, times), so that evaluation never
 * meets a malformed statement. Returns the document as typed; throws ValidationError naming the
 * first problem and where it is.
 */
export function parsePolicyDocument(input: unknown): PolicyDocument {
  const document = object(input, 'document');
  onlyKeys(document, ['statements'], 'document');
  const statements = document.statements;
  if (!Array.isArray(statements) || statements.length === 0 || statements.length > MAX_STATEMENTS) {
    throw malformed(`document.statements must be a list of 1 to ${MAX_STATEMENTS} statements`);
  }
  const parsed = {
    statements: statements.map((statement, i) => parseStatement(statement, `statements[${i}]`)),
  };
  // A like-pattern costs up to its length times the value's on every request it is evaluated for
  // (globMatches): bounded per document, so that no tenant's policy can stall the event loop.
  const likeCharacters = parsed.statements
    .flatMap((statement) => statement.conditions?.contextValues ?? [])
    .filter((condition) => condition.like)
    .reduce((sum, condition) => sum + condition.values.reduce((n, value) => n + value.length, 0), 0);
  if (likeCharacters > MAX_LIKE_CHARACTERS) {
    throw malformed(
      `document: like-patterns (StringLike) have ${likeCharacters} characters in all, at most ${MAX_LIKE_CHARACTERS}`,
    );
  }
  return parsed;
}

/** The characters of every like-pattern of one document together. */
export const MAX_LIKE_CHARACTERS = 1024;

function parseStatement(input: unknown, at: string): Statement {
  const raw = object(input, at);
  onlyKeys(raw, ['sid', 'effect', 'principals', 'actions', 'resources', 'conditions'], at);
  if (raw.effect !== 'allow' && raw.effect !== 'deny')
    throw malformed(`${at}.effect must be "allow" or "deny"`);
  if (raw.sid !== undefined && (typeof raw.sid !== 'string' || raw.sid.length < 1 || raw.sid.length > 128)) {
    throw malformed(`${at}.sid must be a string of 1 to 128 characters`);
  }
  const principals = strings(raw.principals, `${at}.principals`);
  for (const p of principals) {
    if (p !== '*' && !/^(principal|role|tenant):.+$/.test(p)) {
      throw malformed(`${at}.principals: "${p}" is not principal:<id>, role:<name>, tenant:<id> or *`);
    }
  }
  const actions = strings(raw.actions, `${at}.actions`);
  for (const a of actions) {
    if (!/^(kms:)?[A-Za-z*]+$/i.test(a))
      throw malformed(`${at}.actions: "${a}" is not an action name or pattern`);
  }
  const resources = strings(raw.resources, `${at}.resources`);
  for (const r of resources) {
    if (r !== '*' && !/^key:.+$/.test(r) && !/^alias\/.+$/.test(r) && !/^tag:[^=]+=.*$/.test(r)) {
      throw malformed(`${at}.resources: "${r}" is not key:<id>, alias/<name>, tag:<k>=<v> or *`);
    }
  }
  const statement: Statement = { effect: raw.effect, principals, actions, resources };
  if (raw.sid !== undefined) statement.sid = raw.sid as string;
  if (raw.conditions !== undefined)
    statement.conditions = parseConditions(raw.conditions, `${at}.conditions`);
  return statement;
}

function parseConditions(input: unknown, at: string): Conditions {
  const raw = object(input, at);
  onlyKeys(
    raw,
    [
      'sourceIp',
      'notSourceIp',
      'timeWindow',
      'context',
      'contextValues',
      'contextKeys',
      'keyTags',
      'principalAttributes',
      'recipientBound',
      'recipientAttestation',
    ],
    at,
  );
  const conditions: Conditions = {};
  for (const field of ['sourceIp', 'notSourceIp'] as const) {
    if (raw[field] === undefined) continue;
    const cidrs = strings(raw[field], `${at}.${field}`);
    for (const cidr of cidrs) parseCidr(cidr, `${at}.${field}`);
    conditions[field] = cidrs;
  }
  if (raw.contextValues !== undefined) {
    conditions.contextValues = parseContextValues(raw.contextValues, `${at}.contextValues`);
  }
  if (raw.contextKeys !== undefined) {
    conditions.contextKeys = parseContextKeys(raw.contextKeys, `${at}.contextKeys`);
  }
  if (raw.timeWindow !== undefined)
    conditions.timeWindow = parseTimeWindow(raw.timeWindow, `${at}.timeWindow`);
  for (const field of ['context', 'keyTags', 'principalAttributes'] as const) {
    if (raw[field] !== undefined) conditions[field] = stringMap(raw[field], `${at}.${field}`);
  }
  if (raw.recipientBound !== undefined) {
    if (typeof raw.recipientBound !== 'boolean')
      throw malformed(`${at}.recipientBound must be true or false`);
    conditions.recipientBound = raw.recipientBound;
  }
  if (raw.recipientAttestation !== undefined) {
    conditions.recipientAttestation = parseRecipientAttestation(
      raw.recipientAttestation,
      `${at}.recipientAttestation`,
    );
  }
  return conditions;
}

/** `ImageSha384` or `PCR0`..`PCR31`, each to a list of hex digests. */
export function parseRecipientAttestation(
  input: unknown,
  at: string,
  fail: (message: string) => Error = malformed,
): Record<string, string[]> {
  const raw = object(input, at);
  const entries = Object.entries(raw);
  if (entries.length === 0 || entries.length > 33) throw fail(`${at} must name 1 to 33 PCRs`);
  const condition: Record<string, string[]> = {};
  for (const [name, values] of entries) {
    if (pcrIndexOf(name) === undefined) throw fail(`${at}: "${name}" is not ImageSha384 or PCR0 to PCR31`);
    const digests = strings(values, `${at}.${name}`);
    for (const digest of digests) {
      if (!/^([0-9a-f]{2}){32,64}$/i.test(digest))
        throw fail(`${at}.${name}: "${digest}" is not a hex digest`);
    }
    condition[name] = digests.map((digest) => digest.toLowerCase());
  }
  return condition;
}

function parseContextValues(input: unknown, at: string): ContextValueCondition[] {
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_ENTRIES) {
    throw malformed(`${at} must be a list of 1 to ${MAX_ENTRIES} conditions`);
  }
  return input.map((item, i) => {
    const raw = object(item, `${at}[${i}]`);
    onlyKeys(raw, ['key', 'values', 'like', 'negated'], `${at}[${i}]`);
    if (typeof raw.key !== 'string' || raw.key.length < 1 || raw.key.length > 2048) {
      throw malformed(`${at}[${i}].key must be a non-empty string`);
    }
    const condition: ContextValueCondition = {
      key: raw.key,
      values: strings(raw.values, `${at}[${i}].values`),
    };
    for (const flag of ['like', 'negated'] as const) {
      if (raw[flag] === undefined) continue;
      if (typeof raw[flag] !== 'boolean') throw malformed(`${at}[${i}].${flag} must be true or false`);
      if (raw[flag]) condition[flag] = true;
    }
    return condition;
  });
}

function parseContextKeys(input: unknown, at: string): ContextKeysCondition {
  const raw = object(input, at);
  onlyKeys(raw, ['allOf', 'anyOf'], at);
  const condition: ContextKeysCondition = {};
  for (const field of ['allOf', 'anyOf'] as const) {
    if (raw[field] !== undefined) condition[field] = strings(raw[field], `${at}.${field}`);
  }
  if (!condition.allOf && !condition.anyOf) throw malformed(`${at} needs allOf or anyOf`);
  return condition;
}

function parseTimeWindow(input: unknown, at: string): TimeWindow {
  const raw = object(input, at);
  onlyKeys(raw, ['days', 'start', 'end', 'timeZone'], at);
  for (const field of ['start', 'end'] as const) {
    if (typeof raw[field] !== 'string' || !HH_MM.test(raw[field]))
      throw malformed(`${at}.${field} must be "HH:MM"`);
  }
  if (typeof raw.timeZone !== 'string' || !isTimeZone(raw.timeZone)) {
    throw malformed(`${at}.timeZone must be an IANA time zone such as "Europe/Paris"`);
  }
  const window: TimeWindow = { start: raw.start as string, end: raw.end as string, timeZone: raw.timeZone };
  if (raw.days !== undefined) {
    const days = strings(raw.days, `${at}.days`);
    for (const day of days) {
      if (!(WEEKDAYS as readonly string[]).includes(day))
        throw malformed(`${at}.days: "${day}" is not one of ${WEEKDAYS.join(', ')}`);
    }
    window.days = days as Weekday[];
  }
  return window;
}

/**
 * The decision over every statement of every policy that applies to the request: a matching deny
 * wins over any allow; otherwise the first matching allow; otherwise the default deny.
 */
export function evaluatePolicies(
  policies: readonly { ref: PolicyVersionRef; document: PolicyDocument }[],
  request: AccessRequest,
): Decision {
  let allow: Decision | undefined;
  for (const { ref, document } of policies) {
    for (const statement of document.statements) {
      if (!statementMatches(statement, request)) continue;
      const decidedBy = { ...ref, sid: statement.sid ?? null };
      if (statement.effect === 'deny') {
        return { allowed: false, decidedBy, reason: `denied by ${describe(decidedBy)}` };
      }
      allow ??= { allowed: true, decidedBy, reason: `allowed by ${describe(decidedBy)}` };
    }
  }
  return allow ?? { allowed: false, decidedBy: null, reason: 'no statement allows this request' };
}

const describe = (by: PolicyVersionRef & { sid: string | null }) =>
  `policy ${by.policyId} v${by.version}${by.sid ? ` statement ${by.sid}` : ''}`;

export function statementMatches(statement: Statement, request: AccessRequest): boolean {
  return (
    statement.principals.some((p) => principalMatches(p, request.principal)) &&
    statement.actions.some((a) => actionMatches(a, request.action)) &&
    statement.resources.some((r) => resourceMatches(r, request.key)) &&
    conditionsHold(statement.conditions, request, statement.effect)
  );
}

function principalMatches(pattern: string, principal: AccessRequest['principal']): boolean {
  if (pattern === '*') return true;
  const [kind, value] = splitOnce(pattern, ':');
  if (kind === 'principal') return value === principal.id;
  if (kind === 'role') return principal.roles.includes(value);
  if (kind === 'tenant') return value === principal.tenant;
  return false;
}

/** Case-insensitive, an optional `kms:` prefix on either side, `*` matching any run of letters. */
export function actionMatches(pattern: string, action: string): boolean {
  const bare = (name: string) => name.replace(/^kms:/i, '').toLowerCase();
  const wanted = bare(action);
  const parts = bare(pattern).split('*');
  if (parts.length === 1) return parts[0] === wanted;
  let position = 0;
  for (const [i, part] of parts.entries()) {
    if (i === 0) {
      if (!wanted.startsWith(part)) return false;
      position = part.length;
      continue;
    }
    if (i === parts.length - 1) return wanted.length - part.length >= position && wanted.endsWith(part);
    const found = wanted.indexOf(part, position);
    if (found < 0) return false;
    position = found + part.length;
  }
  return true;
}

function resourceMatches(pattern: string, key: AccessRequest['key']): boolean {
  if (pattern === '*') return true;
  if (!key) return false;
  if (pattern.startsWith('key:')) return pattern.slice(4) === key.keyId;
  if (pattern.startsWith('alias/')) return key.aliases.includes(pattern);
  if (pattern.startsWith('tag:')) {
    const [tag, value] = splitOnce(pattern.slice(4), '=');
    return Object.hasOwn(key.tags, tag) && key.tags[tag] === value;
  }
  return false;
}

function conditionsHold(
  conditions: Conditions | undefined,
  request: AccessRequest,
  effect: Statement['effect'],
): boolean {
  if (!conditions) return true;
  if (conditions.sourceIp && !inAnyCidr(request.sourceIp, conditions.sourceIp)) return false;
  // An address that is not an IP address is in no CIDR: it cannot escape a NotIpAddress deny.
  if (conditions.notSourceIp && inAnyCidr(request.sourceIp, conditions.notSourceIp)) return false;
  if (
    conditions.contextValues &&
    !conditions.contextValues.every((c) => contextValueHolds(c, request.context, effect))
  )
    return false;
  if (conditions.contextKeys && !contextKeysHold(conditions.contextKeys, request.context)) return false;
  if (conditions.timeWindow && !inTimeWindow(request.at, conditions.timeWindow)) return false;
  if (conditions.context && !pairsHold(conditions.context, request.context ?? {})) return false;
  if (conditions.keyTags && !(request.key && pairsHold(conditions.keyTags, request.key.tags, false)))
    return false;
  if (
    conditions.principalAttributes &&
    !pairsHold(conditions.principalAttributes, request.principal.attributes, false)
  ) {
    return false;
  }
  if (
    conditions.recipientBound !== undefined &&
    conditions.recipientBound !== (request.recipient !== undefined)
  )
    return false;
  if (
    conditions.recipientAttestation &&
    !attestationHolds(conditions.recipientAttestation, request.recipient)
  )
    return false;
  return true;
}

/** Every named PCR is attested with one of its values (a request without an attested recipient: none is). */
function attestationHolds(
  required: Record<string, string[]>,
  recipient: RecipientFacts | undefined,
): boolean {
  return Object.entries(required).every(([name, values]) => {
    const actual = recipientAttestationValue(recipient, name);
    return actual !== undefined && values.includes(actual);
  });
}

/** Every required pair is present; with `wildcard`, a required "*" accepts any value. */
function pairsHold(
  required: Record<string, string>,
  actual: Readonly<Record<string, string>>,
  wildcard = true,
): boolean {
  return Object.entries(required).every(
    ([k, v]) => Object.hasOwn(actual, k) && ((wildcard && v === '*') || actual[k] === v),
  );
}

/**
 * AWS compares the condition's context key without case. A context that has the key twice in two
 * cases (`dept` and `DEPT`) is ambiguous: the condition is taken to hold for a Deny and not for an
 * Allow, so that neither spelling can slip past the statement.
 */
function contextValueHolds(
  condition: ContextValueCondition,
  context: EncryptionContext | undefined,
  effect: Statement['effect'],
): boolean {
  const wanted = condition.key.toLowerCase();
  const values = Object.entries(context ?? {})
    .filter(([k]) => k.toLowerCase() === wanted)
    .map(([, v]) => v);
  if (values.length > 1) return effect === 'deny';
  const matches =
    values.length === 1 &&
    condition.values.some((value) => (condition.like ? globMatches(value, values[0]!) : value === values[0]));
  return condition.negated ? !matches : matches;
}

function contextKeysHold(condition: ContextKeysCondition, context: EncryptionContext | undefined): boolean {
  const keys = Object.keys(context ?? {});
  if (condition.allOf && !keys.every((k) => condition.allOf!.includes(k))) return false;
  if (condition.anyOf && !keys.some((k) => condition.anyOf!.includes(k))) return false;
  return true;
}

/**
 * AWS's StringLike: `*` any run of characters, `?` any one, everything else literally. The greedy
 * two-pointer match, linear in practice and never exponential (a regular expression built from
 * the pattern could backtrack without bound on a pattern of many `*`).
 */
export function globMatches(pattern: string, value: string): boolean {
  const p = [...pattern];
  const v = [...value];
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < v.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === v[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

/** Compiled once per condition list (the parsed document is kept by whoever caches policies). */
const blockLists = new WeakMap<readonly string[], BlockList>();

function inAnyCidr(ip: string, cidrs: readonly string[]): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  let list = blockLists.get(cidrs);
  if (!list) {
    list = new BlockList();
    for (const cidr of cidrs) {
      const { address, prefix, type } = parseCidr(cidr, 'sourceIp');
      list.addSubnet(address, prefix, type);
    }
    blockLists.set(cidrs, list);
  }
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

function parseCidr(cidr: string, at: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } {
  const [address, prefixText] = cidr.includes('/') ? splitOnce(cidr, '/') : [cidr, undefined];
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (family === 0 || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
    throw malformed(`${at}: "${cidr}" is not an IP address or CIDR block`);
  }
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether `at` falls in the window, in the window's time zone. */
export function inTimeWindow(at: Date, window: TimeWindow): boolean {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: window.timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const minutes = Number(part('hour')) * 60 + Number(part('minute'));
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  const day = part('weekday') as Weekday;
  if (start <= end) {
    return minutes >= start && minutes < end && (!window.days || window.days.includes(day));
  }
  // Over midnight: the part after midnight belongs to the day the window opened.
  if (minutes >= start) return !window.days || window.days.includes(day);
  if (minutes < end) return !window.days || window.days.includes(previousDay(day));
  return false;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const previousDay = (day: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const splitOnce = (text: string, separator: string): [string, string] => {
  const index = text.indexOf(separator);
  return index < 0 ? [text, ''] : [text.slice(0, index), text.slice(index + 1)];
};

const malformed = (message: string) => validationError(`malformed policy: ${message}`);

function object(input: unknown, at: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw malformed(`${at} must be an object`);
  return input as Record<string, unknown>;
}

function onlyKeys(input: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(input))
    if (!allowed.includes(key)) throw malformed(`${at}: unknown field "${key}"`);
}

function strings(input: unknown, at: string): string[] {
  if (
    !Array.isArray(input) ||
    input.length === 0 ||
    input.length > MAX_ENTRIES ||
    !input.every((item) => typeof item === 'string' && item.length >= 1 && item.length <= 2048)
  ) {
    throw malformed(`${at} must be a list of 1 to ${MAX_ENTRIES} non-empty strings`);
  }
  return [...(input as string[])];
}

function stringMap(input: unknown, at: string): Record<string, string> {
  const raw = object(input, at);
  const entries = Object.entries(raw);
  if (
    entries.length === 0 ||
    entries.length > MAX_ENTRIES ||
    !entries.every(([, v]) => typeof v === 'string')
  ) {
    throw malformed(`${at} must map 1 to ${MAX_ENTRIES} keys to strings`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
