// Where commands read and write bytes: a file or stdin/stdout ("-"). File outputs are written to a
// temporary file beside the target and renamed on success, so a failed or tampered decryption never
// leaves a partial file that looks complete. The rename also makes an output's mode its own: the
// file is new (O_EXCL) with the mode asked for, never an existing file that keeps wider permissions,
// and a target that is a symbolic link is refused, never followed (a link planted where a secret
// is written would otherwise send the secret wherever it points).
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { CliError } from './cli-error.js';

export const isStdio = (path: string | undefined) => path === undefined || path === '-';

export interface InputSource {
  stream: Readable;
  /** Known for regular files; drives the progress bar's percentage. */
  size: number | undefined;
}

export async function openInput(
  path: string | undefined,
  stdin: Readable = process.stdin,
): Promise<InputSource> {
  if (isStdio(path)) return { stream: stdin, size: undefined };
  const file = path!;
  let info;
  try {
    info = await stat(file);
  } catch (cause) {
    throw fileError(`cannot read ${file}`, cause);
  }
  if (info.isDirectory()) throw new CliError('IOError', `cannot read ${file}: is a directory`);
  return { stream: createReadStream(file), size: info.isFile() ? info.size : undefined };
}

export async function readInput(path: string | undefined, stdin: Readable = process.stdin): Promise<Buffer> {
  const { stream } = await openInput(path, stdin);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  } catch (cause) {
    throw fileError(`cannot read ${path ?? 'stdin'}`, cause);
  }
  return Buffer.concat(chunks);
}

export interface OutputSink {
  stream: Writable;
  /** Makes the output visible (renames the temporary file into place). */
  commit(): Promise<void>;
  /** Discards a file output; stdout cannot be taken back, the exit code tells the caller. */
  abort(): Promise<void>;
}

export interface OutputOptions {
  /** The output file's mode (before the umask), whether or not the path existed; 0o600 for secrets. */
  mode?: number;
}

export function openOutput(
  path: string | undefined,
  options: OutputOptions = {},
  stdout: NodeJS.WritableStream = process.stdout,
): OutputSink {
  if (isStdio(path)) {
    return { stream: forwardTo(stdout), commit: async () => undefined, abort: async () => undefined };
  }
  const target = path!;
  refuseSymbolicLink(target);
  const temporary = temporaryBeside(target);
  const stream = createWriteStream(temporary, { flags: 'wx', mode: options.mode ?? 0o666 });
  return {
    stream,
    async commit() {
      try {
        await rename(temporary, target);
      } catch (cause) {
        throw fileError(`cannot write ${target}`, cause);
      }
    },
    async abort() {
      stream.destroy();
      await unlink(temporary).catch(() => undefined);
    },
  };
}

export async function writeOutput(
  path: string | undefined,
  data: Uint8Array | string,
  options: OutputOptions = {},
) {
  if (isStdio(path)) {
    process.stdout.write(data);
    return;
  }
  const target = path!;
  refuseSymbolicLink(target);
  const temporary = temporaryBeside(target);
  try {
    await writeFile(temporary, data, { mode: options.mode ?? 0o666, flag: 'wx' });
    await rename(temporary, target);
  } catch (cause) {
    await unlink(temporary).catch(() => undefined);
    throw fileError(`cannot write ${target}`, cause);
  }
}

/** A fresh name beside `target` (same directory, so the rename stays on one file system). */
function temporaryBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
}

/**
 * Refuses a target that is a symbolic link, with a message that says so. This is the clear
 * refusal, not the protection: a link planted after the check is replaced by the rename, not
 * followed.
 */
function refuseSymbolicLink(target: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(target).isSymbolicLink();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(`cannot write ${target}`, cause);
  }
  if (isLink) {
    throw new CliError('IOError', `cannot write ${target}: it is a symbolic link; name the file itself`);
  }
}

/**
 * A Writable that forwards into stdout with backpressure but never ends it: a pipeline ending at
 * stdout must not close the process's stdout (later messages, and Node itself, still use it).
 */
function forwardTo(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let settled = false;
      const settle = (error?: Error | null) => {
        if (settled) return;
        settled = true;
        out.removeListener('error', settle);
        callback(error);
      };
      out.once('error', settle);
      if (out.write(chunk)) settle();
      else out.once('drain', () => settle());
    },
  });
}

export function fileError(message: string, cause: unknown): CliError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES'
        ? 'permission denied'
        : cause instanceof Error
          ? cause.message
          : String(cause);
  return new CliError('IOError', `${message}: ${reason}`, 1, { cause });
}
