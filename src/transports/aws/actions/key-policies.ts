// Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies (CreateKey's `Policy` is in keys.ts).
// The same PolicyService methods as GET/PUT /v1/keys/{keyId}/policy; a policy in AWS's language is
// translated there (domain/aws-policy.ts) and answered back as it was written (docs/aws.md).
import { AWS_POLICY_MAX_CHARS, AwsPolicyText, defaultAwsKeyPolicy } from '../../../domain/aws-policy.js';
import { invalidMarker, notFound, validationError } from '../../../domain/errors.js';
import { accountIdOf } from '../key-references.js';
import { optionalBoolean, optionalInteger, optionalString, requiredString, type Members } from '../wire.js';
import { keyRef, type ActionCall, type AwsActions } from './action-call.js';

/** A key has one policy, named "default", as on AWS. */
const POLICY_NAME = 'default';

function policyName(input: Members): string {
  const name = optionalString(input, 'PolicyName', 128) ?? POLICY_NAME;
  if (!/^[\w]+$/.test(name)) {
    throw validationError(
      "1 validation error detected: Value at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+",
    );
  }
  return name;
}

const noSuchPolicy = (name: string) =>
  notFound(`key policy ${name} does not exist: a key has one policy, named ${POLICY_NAME}`);

/** The key's tenant: a system administrator's call may be on another tenant's key. */
const keyTenantOf = (call: ActionCall) => call.ctx.facts.keyTenant ?? call.ctx.tenant;

export const KEY_POLICY_ACTIONS: AwsActions = {
  async GetKeyPolicy(call) {
    const reference = keyRef(call);
    const name = policyName(call.input);
    const policy = await call.keyhaven.policies.getKeyPolicy(call.ctx, reference);
    if (name !== POLICY_NAME) throw noSuchPolicy(name);
    // As written in AWS's language; a key without a policy of its own as AWS's default key policy
    // (the tenant's own policies decide, which is what that policy says); one written over REST in
    // Keyhaven's language as it is.
    const text =
      policy.awsSource ??
      (policy.version === 0
        ? defaultAwsKeyPolicy(accountIdOf(keyTenantOf(call), call.arns))
        : JSON.stringify(policy.document, null, 2));
    return { Policy: text, PolicyName: POLICY_NAME };
  },

  async PutKeyPolicy(call) {
    const reference = keyRef(call);
    const text = requiredString(call.input, 'Policy', AWS_POLICY_MAX_CHARS);
    const name = policyName(call.input);
    // A key's admins may always read and write its policy (services/access-control.ts): no key
    // policy can lock them out, so there is no lockout check to bypass. Read only to be checked.
    optionalBoolean(call.input, 'BypassPolicyLockoutSafetyCheck');
    if (name !== POLICY_NAME) throw noSuchPolicy(name);
    await call.keyhaven.policies.putKeyPolicy(call.ctx, reference, new AwsPolicyText(text));
    return {};
  },

  async ListKeyPolicies(call) {
    const reference = keyRef(call);
    optionalInteger(call.input, 'Limit', 1, 1000);
    const marker = optionalString(call.input, 'Marker', 320);
    // Authorized as GetKeyPolicy (the one policy's name is all it tells).
    await call.keyhaven.policies.getKeyPolicy(call.ctx, reference);
    // One name, never truncated: no marker was ever issued.
    if (marker !== undefined) throw invalidMarker('the marker was not issued by ListKeyPolicies');
    return { PolicyNames: [POLICY_NAME], Truncated: false };
  },
};
