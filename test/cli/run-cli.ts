// Runs the built `keyhaven` binary (bin/keyhaven.js -> dist/) as a child process, the way users do.
import { spawn } from 'node:child_process';
import { envWithoutKeyhaven } from '../../bench/processes.js';
import { CLI_PATH } from '../helpers/server.js';

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout as text. */
  out: string;
}

export interface CliRunOptions {
  env?: Record<string, string | undefined>;
  input?: Buffer | string;
  cwd?: string;
}

export async function runCli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...envWithoutKeyhaven(), ...options.env };
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: env as NodeJS.ProcessEnv,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A command may exit before reading all of stdin (e.g. on a usage error); that is not a test failure.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const bytes = Buffer.concat(stdout);
  return { code, stdout: bytes, stderr, out: bytes.toString('utf8') };
}
