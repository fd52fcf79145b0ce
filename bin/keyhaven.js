#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build produces dist/). On Node 22.8 and later, V8's
// compile cache spares each later start about a quarter of the CPU that loading the modules takes.
// Node does not authenticate cached code, so the cache is used only in a directory of the account's
// own: ~/.cache/keyhaven under the home directory of the account (not $HOME, which may point
// anywhere), made 0700, and only while it is owned by this account and open to no one else.
// NODE_COMPILE_CACHE picks another directory (Node then enables it itself, unchecked);
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node 20 has no such cache.
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { userInfo } from 'node:os';
import { join } from 'node:path';

function enablePrivateCompileCache() {
  if (!module.enableCompileCache || process.env.NODE_COMPILE_CACHE) return;
  try {
    const directory = join(userInfo().homedir, '.cache', 'keyhaven');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const found = lstatSync(directory);
    if (found.isDirectory() && found.uid === process.getuid() && (found.mode & 0o077) === 0)
      module.enableCompileCache(directory);
  } catch {
    // No home directory, or none writable: start without the cache.
  }
}

enablePrivateCompileCache();
import('../dist/src/cli/main.js').then((m) => m.main(process.argv));
