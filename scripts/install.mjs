#!/usr/bin/env node
// The package's npm `install` step: makes sure an installed thtl-native has a native addon
// that loads (the prebuilt one when it fits the LibTorch found, else a build from source).
// In a development checkout it does nothing: there `npm run build` builds the addon.
// THTL_SKIP_INSTALL=1 skips it; THTL_BUILD_FROM_SOURCE=1 always builds.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..'));
const installed = root.split(sep).includes('node_modules');
if (process.env.THTL_SKIP_INSTALL === '1' || (!installed && existsSync(join(root, '.git')))) process.exit(0);

const entry = join(root, 'dist', 'lib', 'install', 'addon.js');
if (!existsSync(entry)) {
  process.stderr.write(`thtl-native: ${entry} is missing; this package was packed without its compiled JavaScript\n`);
  process.exit(1);
}
const { installAddon } = await import(pathToFileURL(entry).href);
try {
  await installAddon({ root, fromSource: process.env.THTL_BUILD_FROM_SOURCE === '1', clean: true });
} catch (err) {
  process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n\n`);
  process.exit(1);
}
