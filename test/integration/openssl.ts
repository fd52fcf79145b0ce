// Runs the `openssl` CLI as an independent implementation to check the server's output against.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class OpensslWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'keyhaven-openssl-'));

  /** Writes a file in the workspace and returns its path. */
  write(name: string, content: Buffer | string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  read(name: string): Buffer {
    return readFileSync(join(this.dir, name));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Runs openssl; throws with its stderr when it exits non-zero. */
  run(args: string[]): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Runs openssl and reports whether it succeeded, with its combined output (for verify commands). */
  attempt(args: string[]): { ok: boolean; output: string } {
    const result = spawnSync('openssl', args, { cwd: this.dir, encoding: 'utf8' });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
