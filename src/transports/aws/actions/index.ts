// The AWS KMS actions the dialect serves, by AWS name, one module per group. Actions AWS has that
// are not here answer UnsupportedOperationException (aws-json.ts).
import type { AwsActions } from './action-call.js';
import { ENCRYPTION_ACTIONS } from './encryption.js';
import { IMPORT_ACTIONS } from './imports.js';
import { KEY_ACTIONS } from './keys.js';

export { AWS_KMS_ACTION_NAMES } from './action-names.js';
export type { ActionCall, AwsAction } from './action-call.js';

export const AWS_ACTIONS: AwsActions = {
  ...KEY_ACTIONS,
  ...ENCRYPTION_ACTIONS,
  ...IMPORT_ACTIONS,
};
