#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build produces dist/). On Node 22.1 and later, V8's
// compile cache spares each later start about a quarter of the CPU that loading the modules takes.
// It is kept in the user's own ~/.cache/keyhaven (never a shared temporary directory another
// account could have planted it in); NODE_COMPILE_CACHE picks another, NODE_DISABLE_COMPILE_CACHE=1
// turns it off, and where it cannot be written Node goes on without it. Node 20 has no such cache.
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

if (!process.env.NODE_COMPILE_CACHE) module.enableCompileCache?.(join(homedir(), '.cache', 'keyhaven'));
import('../dist/src/cli/main.js').then((m) => m.main(process.argv));
