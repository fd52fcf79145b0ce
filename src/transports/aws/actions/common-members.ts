// Members many cryptographic actions share and Keyhaven decides once for all of them (docs/aws.md):
// GrantTokens must have the form of CreateGrant's tokens (InvalidGrantTokenException otherwise) and
// add nothing, so they are not looked up: a grant takes effect as soon as CreateGrant answers;
// DryRun is refused, not faked, since a dry run that skipped a check would answer "would succeed"
// wrongly; Recipient (Nitro attestation) is refused but by the actions that serve it (recipient.ts).
import { unsupportedOperation } from '../../../domain/errors.js';
import { optionalBoolean, type Members } from '../wire.js';
import { checkGrantTokens } from './action-call.js';

export function checkCommonMembers(input: Members, servesRecipient = false): void {
  checkGrantTokens(input);
  if (optionalBoolean(input, 'DryRun') === true) {
    throw unsupportedOperation('DryRun is not served by Keyhaven; send the request without it');
  }
  if (!servesRecipient && input.Recipient !== undefined && input.Recipient !== null) {
    throw unsupportedOperation('Recipient (attested enclaves) is not served by Keyhaven for this action');
  }
}
