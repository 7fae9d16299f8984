#!/usr/bin/env node
// Makes a checkout ready to run, idempotently and quickly when nothing is missing:
//   1. system packages (Debian/Ubuntu, as root): LibTorch, OpenBLAS, libjpeg, libpng,
//      a C++ toolchain; with --test also the Python oracle (torch, torchvision, sklearn);
//   2. npm dependencies (npm ci);
//   3. the native addon (cmake-js), rebuilt when a native source is newer; for the tests
//      also its test build, thtl_native_test.node (the addon plus test hooks);
//   4. the TypeScript (tsc), rebuilt when a source is newer.
// Used by `npm run demo` and `npm test`, so the README's two commands need nothing else.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test') || process.env.npm_lifecycle_event === 'test';
const log = (msg) => process.stderr.write(`[setup] ${msg}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) {
    log(`failed: ${cmd} ${args.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

function installed(pkg) {
  try {
    const s = execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return s.includes('install ok installed');
  } catch {
    return false;
  }
}

function torchFromElsewhere() {
  if (process.env.THTL_LIBTORCH || process.env.Torch_DIR) return true;
  for (const py of [process.env.THTL_PYTHON, 'python3'].filter(Boolean)) {
    const r = spawnSync(py, ['-c', 'import torch.utils,os;p=torch.utils.cmake_prefix_path;print(os.path.exists(p+"/Torch/TorchConfig.cmake"))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return true;
  }
  return false;
}

function systemPackages() {
  // fonts-dejavu-core: the report's SVG figures name "DejaVu Sans"; sharp renders their text through fontconfig.
  const wanted = ['cmake', 'g++', 'make', 'libjpeg62-turbo-dev', 'libpng-dev', 'libopenblas0-pthread', 'fonts-dejavu-core'];
  if (!torchFromElsewhere()) wanted.push('libtorch-dev');
  if (forTests) wanted.push('python3-torch', 'python3-torchvision', 'python3-sklearn', 'python3-numpy', 'python3-pil');
  if (!existsSync('/usr/bin/dpkg-query')) {
    log(`not a Debian-based system: make sure these (or equivalents) are installed: ${wanted.join(' ')}`);
    return;
  }
  const missing = wanted.filter((p) => !installed(p));
  if (missing.length === 0) return;
  if (process.getuid && process.getuid() !== 0) {
    log(`missing system packages: ${missing.join(' ')}\n  install them with: sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
    process.exit(1);
  }
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function newest(dir, filter) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, filter));
    else if (filter(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

systemPackages();

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  log('installing npm dependencies');
  run('npm', existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

const addons = [join(root, 'build', 'Release', 'thtl_native.node')];
if (forTests) addons.push(join(root, 'build', 'Test', 'thtl_native_test.node'));
const nativeSources = Math.max(newest(join(root, 'src-native'), () => true), mtime(join(root, 'CMakeLists.txt')));
if (Math.min(...addons.map(mtime)) < nativeSources) {
  log(`building the native addon${forTests ? ' and its test build' : ''} (a few minutes the first time)`);
  if (forTests) {
    // cmake-js compile configures only a fresh build folder: turn the option on explicitly.
    const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    run(process.execPath, [cmakeJs, 'configure', '--out', 'build', '--CDTHTL_TEST_HOOKS=ON']);
    run(process.execPath, [cmakeJs, 'build', '--out', 'build']);
    run(process.execPath, [join(root, 'scripts', 'place-prebuild.mjs')]);
  } else {
    run('npm', ['run', '--silent', 'build:native']);
  }
}

const tsOut = join(root, 'dist', 'lib', 'cli.js');
const tsSources = Math.max(newest(join(root, 'lib'), (n) => n.endsWith('.ts')), newest(join(root, 'binding'), (n) => n.endsWith('.ts')));
if (mtime(tsOut) < tsSources) {
  log('compiling TypeScript');
  run('npm', ['run', '--silent', 'build:ts']);
}
