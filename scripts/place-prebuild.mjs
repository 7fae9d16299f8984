#!/usr/bin/env node
// Copies the cmake-js build (build/Release/thtl_native.node and its build record
// thtl_native.json) into prebuilds/<platform>-<arch>/, the prebuilt binary the package
// ships. Only a build against a system LibTorch (Debian's libtorch-dev) is portable to
// other machines; a build against a pip or unpacked LibTorch points into that install, so
// it is left where it is.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'thtl_native.node');
const record = join(root, 'build', 'Release', 'thtl_native.json');
if (!existsSync(built) || !existsSync(record)) {
  // --optional (npm pack): a package without a prebuilt binary builds one at install time.
  if (process.argv.includes('--optional')) process.exit(0);
  process.stderr.write(`place-prebuild: ${built} or its build record does not exist; run cmake-js compile first\n`);
  process.exit(1);
}
const info = JSON.parse(readFileSync(record, 'utf8'));
if (info.torchKind !== 'system') {
  process.stderr.write(`place-prebuild: not shipping this build as the prebuilt binary (LibTorch ${info.torchVersion} from ${info.torchSource} is not a system install)\n`);
  process.exit(0);
}
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(built, join(dir, 'thtl-native.napi.node'));
copyFileSync(record, join(dir, 'thtl-native.napi.json'));
