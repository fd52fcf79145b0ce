// Every `keyhaven` command is a process start, so what main.ts loads up front is paid by each one:
// the server (Fastify), the SQLite adapter (Kysely, better-sqlite3) and the configuration schema
// (zod) are loaded only by the commands that need them. Runs the built binary: `npm run build` first.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { envWithoutKeyhaven } from '../../bench/processes.js';
import { CLI_PATH } from '../helpers/server.js';

/**
 * A module.register() loader hook, as an --import data: URL, that prints each module's URL to stderr.
 * The hooks run on their own thread, whose process.stderr is relayed to the main thread
 * asynchronously and lost when a command ends with process.exit() (commander's --help does): the
 * hook writes to file descriptor 2 itself, synchronously.
 */
const hook = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  'import { writeSync } from "node:fs"; export async function load(url, context, next) { writeSync(2, "loaded " + url + "\\\\n"); return next(url, context); }'
));`,
)}`;

async function loadedModules(args: string[]): Promise<{ code: number | null; urls: string[] }> {
  const child = spawn(process.execPath, ['--import', hook, CLI_PATH, ...args], {
    env: { ...envWithoutKeyhaven(), KEYHAVEN_ENDPOINT: 'http://127.0.0.1:1', KEYHAVEN_TOKEN: 'khk_offline' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const urls = stderr
    .split('\n')
    .filter((line) => line.startsWith('loaded '))
    .map((line) => line.slice('loaded '.length));
  return { code, urls };
}

const packageOf = (url: string) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];

describe('keyhaven start-up', () => {
  it.each([[['--version']], [['keys', 'list', '--help']], [['encrypt', '--help']]])(
    '%j loads commander and its own modules, not Fastify, Kysely, better-sqlite3 or zod',
    async (args) => {
      const { code, urls } = await loadedModules(args);
      expect(code).toBe(0);
      const packages = new Set(urls.map(packageOf).filter((name) => name !== undefined));
      expect(packages).toContain('commander');
      for (const heavy of ['fastify', 'kysely', 'better-sqlite3', 'zod'])
        expect(packages, `${heavy} is loaded at start-up`).not.toContain(heavy);
      expect(urls.some((url) => url.endsWith('/dist/src/cli/main.js'))).toBe(true);
    },
  );

  it('the hook sees the heavy modules where a command does load them (audit verify --db)', async () => {
    const { urls } = await loadedModules(['audit', 'verify', '--db', '/nonexistent/keyhaven.db']);
    const packages = new Set(urls.map(packageOf));
    expect(packages).toContain('kysely');
    expect(packages).toContain('better-sqlite3');
  });
});
