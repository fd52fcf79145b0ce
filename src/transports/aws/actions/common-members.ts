// Members many cryptographic actions share and Keyhaven decides once for all of them (docs/aws.md):
// GrantTokens must be tokens CreateGrant issued (InvalidGrantTokenException otherwise) and add
// nothing: a grant takes effect as soon as CreateGrant answers, so no token is needed to use it;
// DryRun is refused, not faked, since a dry run that skipped a check would answer "would succeed"
// wrongly; Recipient (Nitro attestation) is refused until it is served.
import { unsupportedOperation } from '../../../domain/errors.js';
import { optionalBoolean, type Members } from '../wire.js';
import { checkGrantTokens } from './action-call.js';

export function checkCommonMembers(input: Members): void {
  checkGrantTokens(input);
  if (optionalBoolean(input, 'DryRun') === true) {
    throw unsupportedOperation('DryRun is not served by Keyhaven; send the request without it');
  }
  if (input.Recipient !== undefined && input.Recipient !== null) {
    throw unsupportedOperation('Recipient (attested enclaves) is not served by Keyhaven yet');
  }
}
