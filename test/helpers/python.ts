// The Python oracle (Debian's python3-torch / torchvision / sklearn by default; any Python
// with those packages through THTL_TEST_PYTHON, as the LibTorch 2.x job does), used by
// parity and reference tests. Outside CI a suite whose oracle is missing skips and says so;
// under CI=true it fails (oracleSkip): a CI machine without its oracle is broken, and a
// skip there would pass without checking anything.
import { spawnSync } from 'node:child_process';
import { runChecked } from './process.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PYTHON = process.env.THTL_TEST_PYTHON ?? '/usr/bin/python3';
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Why the oracle cannot run ('' when it can). */
export function pythonOracleMissing(modules: string[] = ['torch', 'torchvision']): string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  // torchvision goes through the fixtures' oracle_env, as the fixture scripts import it.
  const code = ['import sys', `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'test', 'fixtures'))})`]
    .concat(modules.map((m) => (m === 'torchvision' ? 'from oracle_env import torchvision' : `import ${m}`)))
    .join('; ');
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  return r.status === 0 ? '' : `${PYTHON} cannot import ${modules.join(', ')}`;
}

/**
 * For `describe.skipIf(oracleSkip(suite, missing))`: false when the oracle is there
 * (`missing` is ''); otherwise prints `[skip] suite: missing` and returns true, or, under
 * CI=true, throws, so the file fails instead of skipping.
 */
export function oracleSkip(suite: string, missing: string): boolean {
  if (missing === '') return false;
  if (process.env.CI === 'true') throw new Error(`${suite}: the Python oracle is missing under CI (${missing}); .ci/run installs it`);
  process.stderr.write(`[skip] ${suite}: ${missing}\n`);
  return true;
}

/**
 * Runs a fixture script once per content: the output folder is keyed by a hash of the
 * script, its arguments and the oracle's interpreter, under .cache/fixtures (reused across test runs). Async, so
 * a slow oracle never blocks the test worker.
 */
export async function fixtureDir(script: string, args: string[], marker: string): Promise<string> {
  const scriptPath = join(ROOT, 'test', 'fixtures', script);
  const key = createHash('sha256').update(readFileSync(scriptPath)).update(args.join('\0')).update(`\0${PYTHON}`).digest('hex').slice(0, 16);
  const dir = join(ROOT, '.cache', 'fixtures', `${script.replace(/\.py$/, '')}-${key}`);
  const done = join(dir, '.complete');
  if (!existsSync(done) || !existsSync(join(dir, marker))) {
    mkdirSync(dir, { recursive: true });
    await runChecked(PYTHON, [scriptPath, dir, ...args]);
    writeFileSync(done, new Date().toISOString());
  }
  return dir;
}

export function readFloat32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
