// Gets a working native addon into an installed package: the prebuilt binary when it
// matches this platform and the LibTorch a build would use (and loads), otherwise a
// cmake-js build against that LibTorch. Used by the package's install step and by
// `thtl-native build`.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { describeBuild, localBuildPath, prebuildPath, probeAddon, readBuildInfo } from '../../binding/locate.js';
import { describeLibTorch, findLibTorch, LIBTORCH_HELP, sameMinor, type LibTorchFound } from './libtorch.js';

export interface InstallOptions {
  /** the package root (holds CMakeLists.txt and src-native/) */
  root: string;
  /** build from source even when the prebuilt binary would do */
  fromSource?: boolean;
  /** drop the object files after a build, keeping only the addon and its build record */
  clean?: boolean;
  log?: (line: string) => void;
}

export interface InstallResult {
  method: 'prebuild' | 'build';
  addon: string;
  libtorch: LibTorchFound;
}

/** Why the prebuilt binary does not fit this LibTorch ('' when it does). */
export function prebuildMismatch(root: string, lt: LibTorchFound): string {
  const path = prebuildPath(root);
  if (!existsSync(path)) return `no prebuilt binary for this platform (${path})`;
  const b = readBuildInfo(path);
  if (!b) return 'the prebuilt binary has no build record';
  if (!sameMinor(b.torchVersion, lt.version)) return `it is built against LibTorch ${b.torchVersion}, this LibTorch is ${lt.version || 'of unknown version'}`;
  if (b.cuda !== lt.cuda) return `it is a ${b.cuda ? 'CUDA' : 'CPU'} build, this LibTorch is ${lt.cuda ? 'CUDA' : 'CPU'}`;
  const probe = probeAddon(path);
  if ('error' in probe) return `it does not load here (${probe.error})`;
  if (!sameMinor(probe.info.runtimeTorchVersion || b.torchVersion, lt.version)) {
    return `it loads LibTorch ${probe.info.runtimeTorchVersion} (${probe.info.torchLibrary}), not the one found`;
  }
  return '';
}

export function installAddon(opts: InstallOptions): InstallResult {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const search = findLibTorch();
  const lt = search.found;
  if (!lt) {
    throw new Error(
      'thtl-native: no LibTorch found to build the native addon against. Looked at:\n' +
        search.tried.map((t) => `  - ${t}`).join('\n') +
        `\nInstall one, then run \`npx thtl-native build\`:\n${LIBTORCH_HELP}`,
    );
  }
  log(`thtl-native: ${describeLibTorch(lt)}`);
  const built = localBuildPath(opts.root);
  // In a development checkout the prebuilt binary is a copy of the local build: always build.
  const checkout = existsSync(join(opts.root, '.git'));
  if (!opts.fromSource && !checkout) {
    const why = prebuildMismatch(opts.root, lt);
    if (!why) {
      // A stale local build would be loaded before the prebuilt binary.
      rmSync(join(opts.root, 'build'), { recursive: true, force: true });
      log(`thtl-native: using the prebuilt binary (${describeBuild(readBuildInfo(prebuildPath(opts.root)))})`);
      return { method: 'prebuild', addon: prebuildPath(opts.root), libtorch: lt };
    }
    log(`thtl-native: not using the prebuilt binary: ${why}`);
  }
  log('thtl-native: building the native addon from source (cmake-js; a few minutes)');
  const require = createRequire(import.meta.url);
  let cmakeJs: string;
  try {
    cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
  } catch {
    throw new Error('thtl-native: cmake-js is not installed (it is a dependency of thtl-native; reinstall the package)');
  }
  const env = { ...process.env };
  // CMake searches in the same order; pin the interpreter it found so both agree.
  if (lt.kind === 'python' && lt.python) env.THTL_PYTHON = lt.python;
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: opts.root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error || r.status !== 0) {
    throw new Error(
      `thtl-native: the native build failed (${r.error?.message ?? `cmake-js exit ${r.status}`}); its output is above.\n` +
        '  It needs cmake (3.18+), a C++17 compiler, libjpeg and libpng headers, and LibTorch:\n' +
        `${LIBTORCH_HELP}\n  \`npx thtl-native doctor\` shows what is found.`,
    );
  }
  const probe = probeAddon(built);
  if ('error' in probe) throw new Error(`thtl-native: the addon built (${built}) but does not load: ${probe.error}`);
  if (opts.clean) {
    for (const entry of ['CMakeFiles', '.ninja_deps', '.ninja_log', 'build.ninja', 'CMakeCache.txt', 'cmake_install.cmake', 'Makefile']) {
      rmSync(join(opts.root, 'build', entry), { recursive: true, force: true });
    }
  }
  log(`thtl-native: built ${built} against ${describeBuild(readBuildInfo(built))}`);
  return { method: 'build', addon: built, libtorch: lt };
}
