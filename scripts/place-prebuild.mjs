#!/usr/bin/env node
// Copies the cmake-js build into prebuilds/<platform>-<arch>/, where node-gyp-build
// looks for a packaged binary (prebuildify's layout; prebuildify itself drives only
// node-gyp, and this addon builds with cmake-js).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'thtl_native.node');
if (!existsSync(built)) {
  process.stderr.write(`place-prebuild: ${built} does not exist; run cmake-js compile first\n`);
  process.exit(1);
}
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(built, join(dir, 'thtl-native.napi.node'));
