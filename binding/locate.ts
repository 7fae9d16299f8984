// Where the native addon can be, in the order it is loaded, and the build facts written
// next to each binary (thtl_native.json by CMake; copied beside a prebuilt binary).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeInfo } from './info.js';

/** The package root: the folder holding package.json (works from source and from dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('thtl-native: cannot find the package root');
    dir = up;
  }
  return dir;
}

/** What CMake recorded about a build (thtl_native.json). */
export interface BuildInfo {
  torchVersion: string;
  /** THTL_LIBTORCH | Torch_DIR | python | system */
  torchKind: string;
  torchSource: string;
  torchLibDir: string;
  cuda: boolean;
  napi: number;
  /** the C++ standard it was compiled as (20 for LibTorch 2.14 and later, else 17) */
  cxxStandard?: number;
}

export interface AddonCandidate {
  path: string;
  origin: 'THTL_ADDON' | 'build' | 'prebuild';
}

export const platformTag = (): string => `${process.platform}-${process.arch}`;

export function prebuildPath(root = packageRoot()): string {
  return join(root, 'prebuilds', platformTag(), 'thtl-native.napi.node');
}

export function localBuildPath(root = packageRoot()): string {
  return join(root, 'build', 'Release', 'thtl_native.node');
}

// node-gyp-build's resolver, the one native packages share: build/Release (then build/Debug),
// then the prebuilds/<platform>-<arch> binary whose tags fit this Node (napi, libc, armv),
// with THTL_NATIVE_PREBUILD=<folder> to look in another package folder.
const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string };

/**
 * Binaries to try, first to last: THTL_ADDON alone when set; else node-gyp-build's choice,
 * and, when that is a local build, the prebuilt binary after it (node-gyp-build stops at its
 * first match; a local build that no longer loads falls back to the shipped binary).
 */
export function addonCandidates(root = packageRoot(), env: NodeJS.ProcessEnv = process.env): AddonCandidate[] {
  if (env.THTL_ADDON) return [{ path: env.THTL_ADDON, origin: 'THTL_ADDON' }];
  let chosen: string;
  try {
    chosen = nodeGypBuild.path(root);
  } catch {
    return []; // "No native build was found": the caller says how to build one
  }
  const isPrebuild = chosen.split(sep).includes('prebuilds');
  const out: AddonCandidate[] = [{ path: chosen, origin: isPrebuild ? 'prebuild' : 'build' }];
  const prebuilt = prebuildPath(root);
  if (!isPrebuild && existsSync(prebuilt)) out.push({ path: prebuilt, origin: 'prebuild' });
  return out;
}

/** build/Release/thtl_native.node -> thtl_native.json; thtl-native.napi.node -> thtl-native.napi.json */
export function buildInfoPath(addon: string): string {
  return addon.replace(/\.node$/, '.json');
}

export function readBuildInfo(addon: string): BuildInfo | undefined {
  try {
    return JSON.parse(readFileSync(buildInfoPath(addon), 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
}

export function describeBuild(b: BuildInfo | undefined): string {
  if (!b) return 'unknown LibTorch (no build record beside it)';
  return `LibTorch ${b.torchVersion} ${b.cuda ? 'with CUDA' : 'CPU'}${b.cxxStandard ? `, C++${b.cxxStandard}` : ''} (${b.torchSource})`;
}

/**
 * Loads a binary in a child process and returns its info(), or why it failed: a binary
 * built against another LibTorch can abort the process that loads it, so installers and
 * `doctor` never try that in their own.
 */
export function probeAddon(path: string): { info: NativeInfo } | { error: string } {
  const code = `const a = require(${JSON.stringify(path)}); process.stdout.write(JSON.stringify(a.info()));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) {
    try {
      return { info: JSON.parse(r.stdout) as NativeInfo };
    } catch {
      return { error: `unreadable info() output: ${r.stdout.slice(0, 200)}` };
    }
  }
  const stderr = (r.stderr ?? '').trim();
  const why =
    stderr.match(/Error: (.*)/)?.[1] ?? stderr.match(/what\(\):\s*(.*)/)?.[1] ?? stderr.split('\n').slice(-1)[0] ?? '';
  const how = r.signal ? `the process died (${r.signal})` : `exit ${r.status}`;
  return { error: `${how}${why ? `: ${why}` : ''}` };
}
