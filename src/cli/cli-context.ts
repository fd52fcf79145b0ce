// What every command needs from the global options: a configured client and the output mode.
import type { Command } from 'commander';
import { KeyhavenClient } from '../client/index.js';
import { usageError } from './cli-error.js';
import { writeJson } from './output.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8400';

export interface GlobalOptions {
  endpoint: string;
  token?: string;
  json?: boolean;
  timeout?: number;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function createClient(command: Command, { requireToken = true } = {}): KeyhavenClient {
  const { endpoint, token, timeout } = globalOptions(command);
  if (requireToken && !token) throw usageError('no API token: set KEYHAVEN_TOKEN (or pass --token)');
  return new KeyhavenClient({ endpoint, token: token ?? '', timeoutMs: timeout });
}

/** Prints `value` as JSON under --json, otherwise the human rendering. */
export function emit(command: Command, value: unknown, human: () => string): void {
  if (globalOptions(command).json) writeJson(process.stdout, value);
  else process.stdout.write(human());
}
