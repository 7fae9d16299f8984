// The GPU check script (scripts/gpu-check.sh) rehearsed on the CPU as the GPU machine runs
// it: a copy of the working tree holding only what the device tool copies (tracked and
// untracked-but-not-ignored files) plus the carried .device/ and dist/, no node, npm or npx
// on PATH (the GPU machine has none), a pip torch venv as its Python, GPU_CHECK_DEVICE=cpu.
// It must finish every step, write gpu-check.json and the step logs under $OUT, and leave
// .device/ as packed (the next call carries it again, within the carry limit).
//
// Runs where THTL_REHEARSAL_PYTHON names that venv's python (the CUDA job of CI,
// scripts/ci-torch2.sh cuda, sets it and THTL_REHEARSAL_BUILD to the CUDA build it made, which
// the rehearsal reuses instead of compiling again); skipped visibly elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';

const PYTHON = process.env.THTL_REHEARSAL_PYTHON ?? '';
const BUILD = process.env.THTL_REHEARSAL_BUILD ?? '';
if (!PYTHON) console.warn('SKIPPED GPU check rehearsal: THTL_REHEARSAL_PYTHON is not set (npm run test:cuda sets it)');

const NODE_TOOLS = ['node', 'nodejs', 'npm', 'npx', 'corepack'];

/** PATH with every folder that holds node, npm or npx replaced by a copy of it (links) without them. */
function pathWithoutNode(shadowRoot: string): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d && existsSync(d));
  return dirs
    .map((dir, i) => {
      if (!NODE_TOOLS.some((t) => existsSync(join(dir, t)))) return dir;
      const shadow = join(shadowRoot, String(i));
      mkdirSync(shadow, { recursive: true });
      for (const name of readdirSync(dir)) if (!NODE_TOOLS.includes(name)) symlinkSync(join(dir, name), join(shadow, name));
      return shadow;
    })
    .join(delimiter);
}

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    out[name] = statSync(p).isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

describe.skipIf(!PYTHON)('scripts/gpu-check.sh, rehearsed on the CPU', () => {
  it('finishes every step with no Node tools on PATH, reports under $OUT and leaves .device as packed', async () => {
    const work = mkdtempSync(join(tmpdir(), 'thtl-rehearsal-'));
    const tree = join(work, 'tree');
    mkdirSync(tree);
    // the device tool's copy: tracked and untracked-but-not-ignored files, then the carried paths
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT }).toString().split('\0').filter((f) => f && existsSync(join(ROOT, f)));
    execFileSync('tar', ['-C', ROOT, '--null', '-T', '-', '-cf', join(work, 'tree.tar')], { input: files.join('\0') });
    execFileSync('tar', ['-C', ROOT, '-rf', join(work, 'tree.tar'), 'dist']);
    execFileSync('tar', ['-C', tree, '-xf', join(work, 'tree.tar')]);
    // .device/ as a developer packs it, straight into the copy (fast compression: the
    // rehearsal tests the script, and the developer's own .device/ stays as it is)
    const pack = await runProcess('bash', ['scripts/device-pack.sh', join(tree, '.device')], { cwd: ROOT, env: { ...process.env, XZ_OPT: '-0 -T0' } });
    expect(pack.code, pack.stderr).toBe(0);
    process.stderr.write(pack.stdout);
    const before = digest(join(tree, '.device'));
    expect(Object.keys(before).sort()).toEqual(['node.tar.xz', 'node_modules.tar.xz', 'sysroot.tar.xz']);

    const out = join(work, 'out');
    mkdirSync(out);
    const env: NodeJS.ProcessEnv = {
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      TMPDIR: work,
      PATH: pathWithoutNode(join(work, 'path')),
      OUT: out,
      THTL_PYTHON: PYTHON,
      GPU_CHECK_DEVICE: 'cpu',
      GPU_CHECK_DEADLINE_S: '900',
      GPU_CHECK_SYSROOT: '1', // the carried libjpeg/libpng/zlib, as on a machine without their headers
      ...(BUILD ? { GPU_CHECK_BUILD_DIR: BUILD } : {}),
    };
    expect(spawnSync('bash', ['-c', 'command -v node || command -v npx || command -v npm'], { env }).status).not.toBe(0);
    // asynchronously: a long synchronous child would starve the test worker's messages
    const r = await runProcess('bash', ['scripts/gpu-check.sh'], { cwd: tree, env });
    process.stderr.write(r.stderr.slice(-6000));

    const summaryPath = join(out, 'gpu-check.json');
    expect(existsSync(summaryPath)).toBe(true);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
      ok: boolean;
      finished: boolean;
      steps: { name: string; status: string; seconds: number }[];
      doctor: string[];
      parity_max_abs_diff: Record<string, number>;
      layercam_max_abs_diff: Record<string, number>;
      train?: { epochs: number };
      bench_big?: { rows: { peak_rss_mb: Record<string, number> }[] };
    };
    process.stderr.write(`${JSON.stringify(summary, null, 2)}\n`);
    expect(summary.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['unpack', 'build', 'doctor', 'parity', 'train', 'bench'].map((n) => `${n}:ok`));
    expect(summary.ok).toBe(true);
    expect(summary.finished).toBe(true);
    expect(r.code).toBe(0);
    expect(summary.doctor.join('\n')).toMatch(/runs +LibTorch/);
    expect(summary.parity_max_abs_diff.resnet18).toBeLessThan(1e-4);
    expect(summary.layercam_max_abs_diff.resnet50).toBeLessThan(1e-5);
    expect(summary.train?.epochs).toBe(1);
    // every side of the big benchmark ran alone and reported its peak memory
    expect(Object.keys(summary.bench_big?.rows[0]?.peak_rss_mb ?? {}).sort()).toEqual(['amp_cl', 'eager', 'native', 'native_amp_cl']);
    for (const name of ['unpack', 'build', 'doctor', 'parity', 'train', 'bench']) expect(existsSync(join(out, 'gpu-check-logs', `${name}.log`)), name).toBe(true);
    // .device/ is as it was packed: nothing unpacked into it, nothing changed
    expect(digest(join(tree, '.device'))).toEqual(before);
  });
});
