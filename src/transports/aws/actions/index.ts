// The AWS KMS actions the dialect serves, by AWS name, one module per group. Actions AWS has that
// are not here answer UnsupportedOperationException (aws-json.ts).
import type { AwsActions } from './action-call.js';
import { ALIAS_ACTIONS } from './aliases.js';
import { ASYMMETRIC_ACTIONS } from './asymmetric.js';
import { DATA_KEY_ACTIONS } from './data-keys.js';
import { ENCRYPTION_ACTIONS } from './encryption.js';
import { KEY_POLICY_ACTIONS } from './key-policies.js';
import { GRANT_ACTIONS } from './grants.js';
import { IMPORT_ACTIONS } from './imports.js';
import { KEY_ACTIONS } from './keys.js';
import { MAC_ACTIONS } from './mac.js';
import { ROTATION_ACTIONS } from './rotation.js';
import { TAG_ACTIONS } from './tags.js';

export { AWS_KMS_ACTION_NAMES } from './action-names.js';
export type { ActionCall, AwsAction } from './action-call.js';

export const AWS_ACTIONS: AwsActions = {
  ...KEY_ACTIONS,
  ...ALIAS_ACTIONS,
  ...ROTATION_ACTIONS,
  ...TAG_ACTIONS,
  ...ENCRYPTION_ACTIONS,
  ...DATA_KEY_ACTIONS,
  ...ASYMMETRIC_ACTIONS,
  ...MAC_ACTIONS,
  ...KEY_POLICY_ACTIONS,
  ...GRANT_ACTIONS,
  ...IMPORT_ACTIONS,
};
