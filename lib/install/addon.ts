// Gets a working native addon into an installed package: the prebuilt binary when it
// matches this platform and the LibTorch a build would use (and loads), otherwise a
// cmake-js build against that LibTorch. Used by the package's install step and by
// `thtl-native build`.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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

export async function installAddon(opts: InstallOptions): Promise<InstallResult> {
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
  const logPath = join(opts.root, 'build', 'thtl-build.log');
  const status = await runLogged(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: opts.root, env }, logPath, log);
  if (status !== 0) throw new Error(buildFailure(readFileSync(logPath, 'utf8'), logPath, lt));
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

/**
 * Runs a build, its whole output into `logPath`; `log` gets a line at every tenth of the
 * compile steps (ninja's and make's "[n/N]" / "[ p%]" counters). Resolves with the exit status.
 */
function runLogged(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }, logPath: string, log: (line: string) => void): Promise<number> {
  mkdirSync(dirname(logPath), { recursive: true });
  const file = createWriteStream(logPath);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let shown = -1;
    let pending = '';
    const onData = (chunk: Buffer) => {
      file.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = line.match(/^\[(\d+)\/(\d+)\]/) ?? line.match(/^\[\s*(\d+)%\]/);
        if (!m) continue;
        const fraction = m[2] ? Number(m[1]) / Number(m[2]) : Number(m[1]) / 100;
        const tenth = Math.floor(fraction * 10);
        if (tenth > shown) {
          shown = tenth;
          log(`thtl-native: compiling, ${Math.round(fraction * 100)}% (${m[2] ? `${m[1]}/${m[2]} steps` : 'make'})`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      file.write(`\n${err.message}\n`);
      file.end(() => resolve(127));
    });
    child.on('close', (code) => file.end(() => resolve(code ?? 1)));
  });
}

/**
 * One paragraph for a failed build: what went wrong, read from its log, and what to do; the
 * log itself stays in `logPath` (a cmake log on the terminal helps nobody).
 */
export function buildFailure(logText: string, logPath: string, lt: LibTorchFound): string {
  const has = (re: RegExp) => re.test(logText);
  const first = (re: RegExp) => logText.match(re)?.[1]?.trim();
  let cause: string;
  let fix: string;
  // this project's own CMake errors (FATAL_ERROR, wrapped by CMake in lines of two spaces)
  const own = first(/CMake Error at [^\n]*\n\s*thtl-native: ((?:[^\n]|\n {2}(?=\S))+)/);
  if (has(/C\+\+20 or later compatible compiler is required|requires the language dialect "CXX20"/)) {
    cause = `LibTorch ${lt.version} needs a C++20 compiler and this one does not support C++20`;
    fix = 'install GCC 10+ or Clang 12+ (e.g. apt-get install g++-12) and run the install again with CXX=g++-12';
  } else if (has(/Could NOT find JPEG|jpeglib\.h: No such file/)) {
    cause = 'the libjpeg headers are missing';
    fix = 'apt-get install libjpeg62-turbo-dev (libjpeg-turbo-devel on RPM systems)';
  } else if (has(/Could NOT find PNG|png\.h: No such file/)) {
    cause = 'the libpng headers are missing';
    fix = 'apt-get install libpng-dev (libpng-devel on RPM systems)';
  } else if (has(/Could not find CMAKE_ROOT|cmake: not found|spawn cmake ENOENT|CMake is not installed|cmake: command not found/i)) {
    cause = 'CMake is not installed';
    fix = 'apt-get install cmake (3.18 or newer), or pip install cmake';
  } else if (has(/No CMAKE_CXX_COMPILER could be found|CMAKE_CXX_COMPILER not set/)) {
    cause = 'no C++ compiler was found';
    fix = 'apt-get install g++ (or set CXX to one)';
  } else if (has(/installed Caffe2 version uses CUDA but I cannot find the CUDA|CUDA cannot be found|Failed to find nvcc|No CMAKE_CUDA_COMPILER could be found/)) {
    cause = `this LibTorch (${lt.version}) is a CUDA build and no usable CUDA toolkit (nvcc and headers) was found`;
    fix =
      "install the toolkit of torch's CUDA version (pip install nvidia-cuda-nvcc nvidia-cuda-cccl nvidia-cuda-crt nvidia-nvvm into torch's environment, " +
      'or NVIDIA\'s toolkit with CUDA_HOME pointing at it), or build against a CPU LibTorch';
  } else if (own) {
    cause = own.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    fix = 'see above';
  } else {
    const error = first(/^(.*\b(?:fatal error|error|Error):.*)$/m);
    cause = error ? `the first error: ${error.slice(0, 300)}` : 'cmake-js failed without a recognisable error';
    fix = 'it needs cmake (3.18+), a C++17 compiler (C++20 for LibTorch 2.14+), libjpeg and libpng headers, and LibTorch';
  }
  return (
    `thtl-native: the native build against ${describeLibTorch(lt)} failed: ${cause}. ` +
    (fix === 'see above' ? '' : `To fix it: ${fix}. `) +
    `The full build log is ${logPath}; \`npx thtl-native doctor\` shows what is found, and \`npx thtl-native build\` tries again.`
  );
}
