#!/usr/bin/env node
// Launcher behind `pnpm rdc|train|serve|attack|bench`: brings the TypeScript build up to date
// (incremental, ~0.5 s when nothing changed), then runs the CLI with the arguments passed through.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!process.env.RDC_SKIP_BUILD) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
  } catch {
    process.stderr.write('error: the TypeScript build failed (see above)\n');
    process.exit(1);
  }
}
await import(pathToFileURL(join(root, 'apps/cli/dist/main.js')).href);
