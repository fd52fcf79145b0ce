// What every command needs from the global options: a configured client and the output mode.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { KeyhavenClient, KeyhavenError } from '../client/index.js';
import { usageError } from './cli-error.js';
import { writeJson } from './output.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8400';

export interface GlobalOptions {
  endpoint: string;
  token?: string;
  json?: boolean;
  timeout?: number;
  /** Paths of PEM files (--ca, --cert, --key); read when a client is created. */
  ca?: string;
  cert?: string;
  key?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function createClient(command: Command, { requireToken = true } = {}): KeyhavenClient {
  const { endpoint, token, timeout, ca, cert, key } = globalOptions(command);
  if (requireToken && !token) throw usageError('no API token: set KEYHAVEN_TOKEN (or pass --token)');
  try {
    return new KeyhavenClient({
      endpoint,
      token: token ?? '',
      timeoutMs: timeout,
      ca: readPemOption('--ca', ca),
      cert: readPemOption('--cert', cert),
      key: readPemOption('--key', key),
    });
  } catch (error) {
    // The SDK refusing its options (a certificate without its key, --ca with an http:// endpoint)
    // is a usage error here.
    if (error instanceof KeyhavenError && error.code === 'ValidationError') throw usageError(error.message);
    throw error;
  }
}

/** A named file that cannot be read is the caller's mistake (exit 2); its content is never shown. */
function readPemOption(option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw usageError(`cannot read the ${option} file ${path} (${reason})`);
  }
}

/** Prints `value` as JSON under --json, otherwise the human rendering. */
export function emit(command: Command, value: unknown, human: () => string): void {
  if (globalOptions(command).json) writeJson(process.stdout, value);
  else process.stdout.write(human());
}
