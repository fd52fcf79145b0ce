// What every AWS action gets, and the references it reads and answers with. Each action is a
// translation: AWS's request members to one service call through the same request context as
// REST, and the result to AWS's response members. Authorization, quotas and audit happen where
// they happen for REST, in the services and the hooks.
import type { RequestContext } from '../../../domain/request-context.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { keyArn, keyReference, type ArnScope } from '../key-references.js';
import { requiredString, type Members } from '../wire.js';

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
