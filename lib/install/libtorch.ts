// Which LibTorch a build would use, found in the same order as CMakeLists.txt:
// THTL_LIBTORCH, Torch_DIR, the `torch` package of THTL_PYTHON / python3 / python
// (pip's CUDA LibTorch on a GPU server), then a system install (Debian's libtorch-dev).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type LibTorchKind = 'THTL_LIBTORCH' | 'Torch_DIR' | 'python' | 'system';

export interface LibTorchFound {
  kind: LibTorchKind;
  /** x.y.z, '' when it cannot be read */
  version: string;
  cuda: boolean;
  /** the folder or interpreter it was found through */
  where: string;
  /** the interpreter, when found through a Python `torch` package */
  python?: string;
}

const SYSTEM_CONFIGS = [
  '/usr/lib/x86_64-linux-gnu/cmake/Torch',
  '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/lib/cmake/Torch',
  '/usr/lib64/cmake/Torch',
  '/usr/share/cmake/Torch',
  '/usr/local/lib/cmake/Torch',
  '/usr/local/share/cmake/Torch',
];

/** x.y.z from a LibTorch version.h, '' when there is none. */
export function versionFromHeader(includeRoot: string): string {
  const header = join(includeRoot, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  if (!existsSync(header)) return '';
  const text = readFileSync(header, 'utf8');
  const part = (name: string) => text.match(new RegExp(`#define\\s+TORCH_VERSION_${name}\\s+(\\d+)`))?.[1];
  const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  return major && minor && patch ? `${major}.${minor}.${patch}` : '';
}

/** '2.13.0+cpu' -> '2.13.0'. */
export function plainVersion(v: string): string {
  return v.replace(/[+a-z].*$/i, '');
}

/** Same major.minor: LibTorch keeps its C++ ABI within a minor release only. */
export function sameMinor(a: string, b: string): boolean {
  const mm = (v: string) => plainVersion(v).split('.').slice(0, 2).join('.');
  return a !== '' && b !== '' && mm(a) === mm(b);
}

function fromRoot(kind: LibTorchKind, root: string, where: string): LibTorchFound {
  let version = versionFromHeader(join(root, 'include'));
  const buildVersion = join(root, 'build-version');
  if (!version && existsSync(buildVersion)) version = plainVersion(readFileSync(buildVersion, 'utf8').trim());
  return { kind, version, cuda: existsSync(join(root, 'lib', 'libtorch_cuda.so')), where };
}

/** What a Python interpreter's `torch` package offers, or why it does not. */
export function probePython(python: string): LibTorchFound | string {
  const code = [
    'import json, os, torch, torch.utils',
    'p = torch.utils.cmake_prefix_path',
    "print(json.dumps({'version': torch.__version__, 'cuda': torch.version.cuda, 'prefix': p,",
    "  'config': os.path.exists(os.path.join(p, 'Torch', 'TorchConfig.cmake'))}))",
  ].join('\n');
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${python}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message}`;
  if (r.status !== 0) return `${python}: no usable torch package`;
  try {
    const o = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { version: string; cuda: string | null; prefix: string; config: boolean };
    if (!o.config) return `${python}: torch ${o.version} has no CMake files (${o.prefix})`;
    return { kind: 'python', version: plainVersion(o.version), cuda: o.cuda !== null, where: o.prefix, python };
  } catch {
    return `${python}: unreadable answer from torch`;
  }
}

export interface LibTorchSearch {
  found?: LibTorchFound;
  /** one line per place looked at, in order */
  tried: string[];
}

/** The LibTorch a build started now would use. */
export function findLibTorch(env: NodeJS.ProcessEnv = process.env): LibTorchSearch {
  const tried: string[] = [];
  if (env.THTL_LIBTORCH) {
    const root = resolve(env.THTL_LIBTORCH);
    return { found: fromRoot('THTL_LIBTORCH', root, root), tried: [`THTL_LIBTORCH=${root}`] };
  }
  if (env.Torch_DIR) {
    const dir = resolve(env.Torch_DIR);
    const root = resolve(dir, '..', '..', '..');
    const found = fromRoot('Torch_DIR', root, dir);
    if (!found.version) found.version = versionFromHeader('/usr/include');
    return { found, tried: [`Torch_DIR=${dir}`] };
  }
  for (const python of [env.THTL_PYTHON, 'python3', 'python']) {
    if (!python) continue;
    const probe = probePython(python);
    if (typeof probe !== 'string') return { found: probe, tried: [...tried, `${python}: torch ${probe.version}`] };
    tried.push(probe);
  }
  for (const dir of SYSTEM_CONFIGS) {
    if (!existsSync(join(dir, 'TorchConfig.cmake'))) continue;
    // .../lib/<triplet>/cmake/Torch -> headers under /usr/include; .../share/cmake/Torch -> <prefix>/include
    const prefix = dir.startsWith('/usr/local') ? '/usr/local' : '/usr';
    const libDir = dirname(dirname(dir));
    const version = versionFromHeader(join(prefix, 'include'));
    const cuda = existsSync(join(libDir, 'libtorch_cuda.so')) || existsSync(join(prefix, 'lib', 'libtorch_cuda.so'));
    return { found: { kind: 'system', version, cuda, where: dir }, tried: [...tried, `system: ${dir}`] };
  }
  tried.push(`system: no TorchConfig.cmake in ${SYSTEM_CONFIGS.join(', ')}`);
  return { tried };
}

export function describeLibTorch(f: LibTorchFound): string {
  const what = `LibTorch ${f.version || '(version unknown)'} ${f.cuda ? 'with CUDA' : 'CPU'}`;
  switch (f.kind) {
    case 'python':
      return `${what} from python (${f.python}): ${f.where}`;
    case 'system':
      return `${what} from the system: ${f.where}`;
    default:
      return `${what} from ${f.kind}=${f.where}`;
  }
}

/** How to get a LibTorch, for error messages. */
export const LIBTORCH_HELP =
  '  Debian/Ubuntu (CPU):  apt-get install libtorch-dev libopenblas0-pthread\n' +
  '  GPU server:           pip install torch   (or THTL_PYTHON=/path/to/python with torch)\n' +
  '  Any other LibTorch:   export THTL_LIBTORCH=/path/to/libtorch';
