// The error for a root key that cannot be loaded or unsealed (wrong passphrase, damaged file). Its own
// module so that the CLI's error report can recognise it without loading the root key file's schema.
export class RootKeyError extends Error {
  override name = 'RootKeyError';
}
