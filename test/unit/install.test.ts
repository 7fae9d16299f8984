// Which LibTorch a build would use, and when the shipped prebuilt binary fits it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { findLibTorch, plainVersion, sameMinor, versionFromHeader, type LibTorchFound } from '../../lib/install/libtorch.js';
import { buildFailure, prebuildMismatch } from '../../lib/install/addon.js';
import { localBuildPath, platformTag } from '../../binding/locate.js';
import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir } from '../helpers/images.js';

/** A LibTorch-shaped folder: include/.../torch/version.h, and lib/libtorch_cuda.so when cuda. */
function libtorchDir(version: string, cuda: boolean): string {
  const root = tempDir('libtorch');
  const inc = join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch');
  mkdirSync(inc, { recursive: true });
  const [major, minor, patch] = version.split('.');
  writeFileSync(join(inc, 'version.h'), `#pragma once\n#define TORCH_VERSION_MAJOR ${major}\n#define TORCH_VERSION_MINOR ${minor}\n#define TORCH_VERSION_PATCH ${patch}\n`);
  mkdirSync(join(root, 'lib'));
  if (cuda) writeFileSync(join(root, 'lib', 'libtorch_cuda.so'), '');
  return root;
}

describe('LibTorch discovery', () => {
  it('versions: plain, same minor', () => {
    expect(plainVersion('2.13.0+cpu')).toBe('2.13.0');
    expect(plainVersion('2.5.1a0')).toBe('2.5.1');
    expect(sameMinor('2.13.0+cpu', '2.13.1')).toBe(true);
    expect(sameMinor('1.13.0', '2.13.0')).toBe(false);
    expect(sameMinor('2.1.0', '2.13.0')).toBe(false);
    expect(sameMinor('', '2.13.0')).toBe(false);
  });

  it('THTL_LIBTORCH comes first, with its version.h and CUDA library', () => {
    const dir = libtorchDir('2.5.1', true);
    const s = findLibTorch({ THTL_LIBTORCH: dir, THTL_PYTHON: '/nonexistent/python' });
    expect(s.found).toEqual({ kind: 'THTL_LIBTORCH', version: '2.5.1', cuda: true, where: dir });
  });

  it('Torch_DIR=<root>/share/cmake/Torch reads <root>', () => {
    const dir = libtorchDir('2.13.0', false);
    const s = findLibTorch({ Torch_DIR: join(dir, 'share', 'cmake', 'Torch') });
    expect(s.found).toMatchObject({ kind: 'Torch_DIR', version: '2.13.0', cuda: false });
  });

  it('an interpreter that is missing is reported and skipped', () => {
    const s = findLibTorch({ THTL_PYTHON: '/nonexistent/python', PATH: '/nonexistent' });
    expect(s.tried[0]).toBe('/nonexistent/python: not found');
    if (existsSync('/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake')) {
      expect(s.found).toMatchObject({ kind: 'system', version: versionFromHeader('/usr/include') });
      expect(s.found!.version).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});

describe('prebuilt binary', () => {
  const lt = (version: string, cuda = false): LibTorchFound => ({ kind: 'python', version, cuda, where: '/x', python: 'python3' });

  it('is refused for another LibTorch minor version or CUDA flag, with the reason', () => {
    const root = tempDir('pkg');
    expect(prebuildMismatch(root, lt('1.13.0'))).toMatch(/no prebuilt binary for this platform/);
    const dir = join(root, 'prebuilds', platformTag());
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'thtl-native.napi.node'), '');
    expect(prebuildMismatch(root, lt('1.13.0'))).toMatch(/no build record/);
    writeFileSync(join(dir, 'thtl-native.napi.json'), JSON.stringify({ torchVersion: '1.13.0', torchKind: 'system', torchSource: 'system', torchLibDir: '/usr/lib', cuda: false, napi: 8 }));
    expect(prebuildMismatch(root, lt('2.13.0'))).toBe('it is built against LibTorch 1.13.0, this LibTorch is 2.13.0');
    expect(prebuildMismatch(root, lt('1.13.1', true))).toBe('it is a CPU build, this LibTorch is CUDA');
    expect(prebuildMismatch(root, lt('1.13.0'))).toMatch(/does not load here/); // an empty file is no addon
  });

  it('fits when it matches and loads: the checkout build, for the LibTorch its record names', () => {
    const built = localBuildPath(ROOT);
    const record = built.replace(/\.node$/, '.json');
    expect(existsSync(record), `${record} (written by every build)`).toBe(true);
    const b = JSON.parse(readFileSync(record, 'utf8')) as { torchVersion: string; torchKind: LibTorchFound['kind']; torchLibDir: string; cuda: boolean };
    const lt: LibTorchFound = { kind: b.torchKind, version: b.torchVersion, cuda: b.cuda, where: b.torchLibDir };
    const root = tempDir('pkg');
    const dir = join(root, 'prebuilds', platformTag());
    mkdirSync(dir, { recursive: true });
    copyFileSync(built, join(dir, 'thtl-native.napi.node'));
    copyFileSync(record, join(dir, 'thtl-native.napi.json'));
    expect(prebuildMismatch(root, lt)).toBe('');
    // and the same binary does not fit another minor version
    const [major, minor] = b.torchVersion.split('.').map(Number);
    expect(prebuildMismatch(root, { ...lt, version: `${major}.${minor + 1}.0` })).toMatch(/is built against LibTorch/);
  });
});

describe('doctor', () => {
  it('names a binary that does not load and how to rebuild, exiting 1', async () => {
    const r = await runProcess(process.execPath, [join(ROOT, 'bin', 'thtl-native.js'), 'doctor'], { env: { ...process.env, THTL_ADDON: '/nonexistent/thtl_native.node' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('/nonexistent/thtl_native.node');
    expect(r.stdout).toMatch(/does not load/);
    expect(r.stdout).toMatch(/npx thtl-native build/);
  });
});

describe('a failed build explains itself in one paragraph', () => {
  const cuda: LibTorchFound = { kind: 'python', version: '2.14.1', cuda: true, where: '/venv/lib/python3.11/site-packages/torch/share/cmake', python: '/venv/bin/python' };
  const cases: [string, string, RegExp][] = [
    [
      'C++20 headers with an old compiler',
      '[3/42] Building CXX object x.o\nFAILED: x.o\n/venv/torch/include/ATen/ATen.h:4:2: error: #error C++20 or later compatible compiler is required to use PyTorch.\n',
      /needs a C\+\+20 compiler.*To fix it: install GCC 10\+ or Clang 12\+/,
    ],
    ['missing libjpeg headers', 'CMake Error at /usr/share/cmake-3.25/Modules/FindPackageHandleStandardArgs.cmake:230 (message):\n  Could NOT find JPEG (missing: JPEG_LIBRARY JPEG_INCLUDE_DIR)\n', /libjpeg headers are missing.*libjpeg62-turbo-dev/],
    [
      "the project's own CMake error, unwrapped",
      '-- thtl-native: LibTorch 2.14.1 from python\nCMake Error at CMakeLists.txt:103 (message):\n  thtl-native: this LibTorch (/venv/torch) is a CUDA build, and building\n  against it needs the CUDA toolkit.\n\n\n-- Configuring incomplete, errors occurred!\n',
      /failed: this LibTorch \(\/venv\/torch\) is a CUDA build, and building against it needs the CUDA toolkit\. The full build log/,
    ],
    ["LibTorch's CUDA check", '  Your installed Caffe2 version uses CUDA but I cannot find the CUDA libraries.\n', /CUDA build and no usable CUDA toolkit.*nvidia-cuda-nvcc/],
    ['any other compiler error', 'src-native/x.cc:3:10: fatal error: foo.h: No such file or directory\n', /the first error: src-native\/x\.cc:3:10: fatal error: foo\.h/],
  ];
  for (const [name, log, want] of cases) {
    it(name, () => {
      const text = buildFailure(log, '/pkg/build/thtl-build.log', cuda);
      expect(text).toMatch(want);
      expect(text).toMatch(/^thtl-native: the native build against LibTorch 2\.14\.1 with CUDA from python/);
      expect(text).toContain('The full build log is /pkg/build/thtl-build.log');
      expect(text).not.toContain('\n');
    });
  }
});
