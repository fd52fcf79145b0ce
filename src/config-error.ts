// The error for configuration the operator must fix. Its own module so that code that only needs to
// recognise it (the CLI's error report) does not load the configuration schema and zod with it.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
