// What every AWS action gets, and the references it reads and answers with. Each action is a
// translation: AWS's request members to one service call through the same request context as
// REST, and the result to AWS's response members. Authorization, quotas and audit happen where
// they happen for REST, in the services and the hooks.
import { invalidGrantToken, parseGrantToken } from '../../../domain/grant.js';
import type { RequestContext } from '../../../domain/request-context.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { keyArn, keyReference, type ArnScope } from '../key-references.js';
import { optionalStringList, requiredString, type Members } from '../wire.js';

export interface ActionCall {
  ctx: RequestContext;
  input: Members;
  keyhaven: Keyhaven;
  arns: ArnScope;
}

export type AwsAction = (call: ActionCall) => Promise<Members>;

/** A group of actions, by AWS name. */
export type AwsActions = Readonly<Record<string, AwsAction>>;

/** The KeyId member (or another) as the services take it (ARNs resolved against the caller's account). */
export const keyRef = ({ ctx, input, arns }: ActionCall, name = 'KeyId') =>
  keyReference(requiredString(input, name, 2048), ctx.tenant, arns);

/** The ARN of a key the call used: in its own tenant (a system administrator's may be another's). */
export const usedKeyArn = ({ ctx, arns }: ActionCall, keyId: string) =>
  keyArn(keyId, ctx.facts.keyTenant ?? ctx.tenant, arns);

/**
 * The GrantTokens member (up to 10 tokens of up to 8192 characters): Keyhaven's grants take
 * effect at once, so a token this server issued adds nothing, but one it did not issue is refused
 * as AWS refuses it (InvalidGrantTokenException). Every action that takes GrantTokens calls this.
 */
export function checkGrantTokens(input: Members): void {
  for (const token of optionalStringList(input, 'GrantTokens', 10, 8192) ?? []) {
    if (!parseGrantToken(token)) throw invalidGrantToken('A grant token in GrantTokens is not valid');
  }
}
