// Builds the admin console (console/) into dist/console: its modules bundled by esbuild into one
// app.js (Preact and htm included, so nothing is fetched from elsewhere), beside index.html and
// console.css. Run by `npm run build`.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'console', 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'linked',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'console.css']) copyFileSync(join(root, 'console', file), join(out, file));
