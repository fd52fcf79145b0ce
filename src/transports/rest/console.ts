// The admin web console at /ui (docs/console.md): the static files `npm run build` bundles into
// dist/console, read once at start-up and served from memory, public like /docs. The console is a
// client of the REST API like any other: these routes carry no credential and add no hook.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

interface ConsoleFile {
  body: Buffer;
  type: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** The console's OpenID Connect sign-in (config console.oidc), told to the page in /ui/config.json. */
export interface ConsoleOidc {
  issuer: string;
  clientId: string;
  scope: string;
  /** Set when the token endpoint is on another origin than the issuer. */
  tokenEndpoint?: string;
}

export interface ConsoleOptions {
  /** Where the built console is (default: dist/console of this package). */
  directory?: string;
  oidc?: ConsoleOidc;
}

/**
 * No inline script or style, nothing from another origin: the page can only run the bundle it was
 * served with and talk to this server (and, for OpenID Connect sign-in, fetch the issuer's discovery
 * document and token endpoint: the issuer's origin, and console.oidc.tokenEndpoint's when set). frame-ancestors stops clickjacking of the action buttons.
 */
export function consoleCsp(oidc?: ConsoleOidc): string {
  const origins = new Set(["'self'"]);
  if (oidc) origins.add(new URL(oidc.issuer).origin);
  if (oidc?.tokenEndpoint) origins.add(new URL(oidc.tokenEndpoint).origin);
  const connect = [...origins].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const CONSOLE_CSP = consoleCsp();

/** dist/console of the package, whether this module runs from src/ (tsx) or from dist/src/. */
export function consoleDirectory(): string {
  const up = resolve(import.meta.dirname, '..', '..', '..');
  const packageRoot = basename(up) === 'dist' ? dirname(up) : up;
  return join(packageRoot, 'dist', 'console');
}

/** Every file of the built console by its path under /ui/ (index.html also as ''). */
function readConsoleFiles(directory: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(directory)) return files;
  for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const path = join(entry.parentPath, entry.name);
    const name = path
      .slice(directory.length + 1)
      .split('\\')
      .join('/');
    files.set(name, { body: readFileSync(path), type });
  }
  const index = files.get('index.html');
  if (index) files.set('', index);
  return files;
}

export function registerConsoleRoutes(app: FastifyInstance, options: ConsoleOptions = {}): void {
  const files = readConsoleFiles(options.directory ?? consoleDirectory());
  const csp = consoleCsp(options.oidc);
  if (files.size > 0) {
    // What the page needs to know before anyone signs in: public, like the issuer's own discovery.
    const settings = { oidc: options.oidc ?? null };
    files.set('config.json', { body: Buffer.from(JSON.stringify(settings)), type: CONTENT_TYPES['.json']! });
  }

  const send = (reply: FastifyReply, file: ConsoleFile, name: string) => {
    // The console page in a browsing context group of its own: a site that opened it (window.open)
    // keeps no handle to navigate the signed-in tab. Its own sign-in popup stays reachable, and the
    // callback page (no such header) can still post the code back to it.
    if (name === '' || name === 'index.html')
      reply.header('cross-origin-opener-policy', 'same-origin-allow-popups');
    return (
      reply
        .header('content-security-policy', csp)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // The page names its scripts without a version: always ask again, so an upgrade is seen at once.
        .header('cache-control', name.endsWith('.js') || name.endsWith('.css') ? 'no-cache' : 'no-store')
        .type(file.type)
        .send(file.body)
    );
  };

  app.get('/ui', { config: { public: true }, schema: { hide: true } }, (_request, reply) =>
    reply.redirect('/ui/'),
  );
  app.get<{ Params: { '*': string } }>(
    '/ui/*',
    { config: { public: true }, schema: { hide: true } },
    (request, reply) => {
      const name = request.params['*'];
      const file = files.get(name);
      if (file) return send(reply, file, name);
      const message =
        files.size === 0 ? 'the console is not built (npm run build)' : `no console file ${name}`;
      return reply
        .status(404)
        .header('x-content-type-options', 'nosniff')
        .send({ error: { code: 'NotFound', message, requestId: request.id } });
    },
  );
}
