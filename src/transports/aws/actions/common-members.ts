// Members many cryptographic actions share and Keyhaven decides once for all of them (docs/aws.md):
// GrantTokens are checked and ignored (Keyhaven has no grants, so no token adds a permission);
// DryRun is refused, not faked, since a dry run that skipped a check would answer "would succeed"
// wrongly; Recipient (Nitro attestation) is refused until it is served.
import { unsupportedOperation } from '../../../domain/errors.js';
import { optionalBoolean, optionalStringList, type Members } from '../wire.js';

export function checkCommonMembers(input: Members): void {
  optionalStringList(input, 'GrantTokens', 10, 8192);
  if (optionalBoolean(input, 'DryRun') === true) {
    throw unsupportedOperation('DryRun is not served by Keyhaven; send the request without it');
  }
  if (input.Recipient !== undefined && input.Recipient !== null) {
    throw unsupportedOperation('Recipient (attested enclaves) is not served by Keyhaven yet');
  }
}
