// The CLI's file outputs on a real file system: a secret lands with the mode asked for even where a
// file existed with wider permissions, and a symbolic link at the target is refused, never followed
// (found by review: writeOutput wrote through links and kept an existing file's mode).
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openOutput, writeOutput } from '../../src/cli/io.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('CLI file outputs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-io-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const viaWriteOutput = (path: string, data: string) => writeOutput(path, data, { mode: 0o600 });
  const viaOpenOutput = async (path: string, data: string) => {
    const sink = openOutput(path, { mode: 0o600 });
    await pipeline(Readable.from([Buffer.from(data)]), sink.stream);
    await sink.commit();
  };

  for (const [name, write] of [
    ['writeOutput', viaWriteOutput],
    ['openOutput', viaOpenOutput],
  ] as const) {
    describe(name, () => {
      it('gives an existing, world-readable file the secret mode, and its new content', async () => {
        const target = join(dir, 'secret.out');
        writeFileSync(target, 'old', { mode: 0o644 });
        expect(mode(target)).toBe(0o644);
        await write(target, 'new secret');
        expect(readFileSync(target, 'utf8')).toBe('new secret');
        expect(mode(target)).toBe(0o600);
        expect(readdirSync(dir)).toEqual(['secret.out']);
      });

      it('refuses a symbolic link at the target, leaving the file it points to untouched', async () => {
        const elsewhere = join(dir, 'elsewhere');
        writeFileSync(elsewhere, 'untouched', { mode: 0o644 });
        const link = join(dir, 'link.out');
        symlinkSync(elsewhere, link);
        await expect(write(link, 'secret')).rejects.toMatchObject({
          code: 'IOError',
          message: expect.stringMatching(/symbolic link/),
        });
        expect(readFileSync(elsewhere, 'utf8')).toBe('untouched');
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(readdirSync(dir).sort()).toEqual(['elsewhere', 'link.out']);
      });

      it('refuses a dangling symbolic link too: nothing is created where it points', async () => {
        const link = join(dir, 'dangling.out');
        symlinkSync(join(dir, 'created-through-link'), link);
        await expect(write(link, 'secret')).rejects.toMatchObject({ code: 'IOError' });
        expect(readdirSync(dir)).toEqual(['dangling.out']);
      });
    });
  }
});
