// Builds the admin console (console/) into dist/console: its modules bundled by esbuild into one
// app.js (Preact and htm included, so nothing is fetched from elsewhere) and the OpenID Connect
// callback's callback.js, beside index.html, callback.html and console.css. Run by `npm run build`.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: {
    app: join(root, 'console', 'src', 'main.js'),
    callback: join(root, 'console', 'src', 'callback.js'),
  },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'linked',
  outdir: out,
  logLevel: 'warning',
});
for (const file of ['index.html', 'callback.html', 'console.css'])
  copyFileSync(join(root, 'console', file), join(out, file));
