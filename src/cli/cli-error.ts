// Errors the CLI raises itself. Usage errors exit 2 (like commander's own); other failures exit 1.
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError('UsageError', message, 2);
