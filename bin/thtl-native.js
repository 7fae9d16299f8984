#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build:ts writes dist/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'lib', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('thtl-native: not built yet; run `npm run build` in ' + root + '\n');
  process.exit(1);
}
const { main } = await import(pathToFileURL(cli).href);
await main(process.argv);
