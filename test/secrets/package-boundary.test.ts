// @keyhaven/secrets stands on its own: its sources import only each other, Node built-ins and the
// packages its package.json declares, never the server (src/).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server.js';

const PACKAGE = join(REPO_ROOT, 'packages', 'secrets');
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

describe('@keyhaven/secrets', () => {
  it('imports only its own modules, node: built-ins and its declared dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const files = sources(join(PACKAGE, 'src'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const specifiers = [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map(
        (m) => m[1]!,
      );
      for (const specifier of specifiers) {
        if (specifier.startsWith('.')) {
          const target = relative(join(PACKAGE, 'src'), resolve(join(file, '..'), specifier));
          expect(target.startsWith('..'), `${relative(PACKAGE, file)} imports ${specifier}`).toBe(false);
        } else if (!specifier.startsWith('node:')) {
          expect(declared.has(specifier), `${relative(PACKAGE, file)} imports ${specifier}`).toBe(true);
        }
      }
    }
  });
});
