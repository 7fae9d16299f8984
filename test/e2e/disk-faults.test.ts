// A full disk and a read-only output folder, made by the test itself (small tmpfs mounts;
// root only): `train` exits non-zero with a message naming the path and the cause, leaves
// what it wrote before intact and no temp file behind, and the run resumes once there is
// room. Skipped, saying why, where the machine refuses the mounts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const mounts: string[] = [];

/** Mounts a tmpfs of `size` on a new folder; null (with the reason printed) where that is refused. */
function tmpfs(name: string, size: string): string | null {
  const dir = join(tempDir(name), 'mnt');
  mkdirSync(dir);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`[skip] disk-fault tests: cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim() || `exit ${r.status}`}); they need root\n`);
    return null;
  }
  mounts.push(dir);
  return dir;
}

function remount(dir: string, options: string): void {
  const r = spawnSync('mount', ['-o', `remount,${options}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`remount ${options} failed: ${r.stderr}`);
}

afterAll(() => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
});

const canMount = (() => {
  const probe = tmpfs('disk-probe', '1m');
  if (probe !== null) return true;
  // CI runs as root, where mounting a tmpfs works: there a refusal is a broken machine.
  if (process.env.CI === 'true') throw new Error('the disk-fault tests cannot mount a tmpfs in CI (they need root)');
  process.stderr.write('[skip] disk and permission faults: this machine refuses tmpfs mounts (run as root)\n');
  return false;
})();

const TINY = ['--model', 'resnet18', '--epochs', '2', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--no-cache'];
const cli = (args: string[]) => runProcess(process.execPath, [BIN, ...args]);
const tempFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.tmp-')) : []);

describe.skipIf(!canMount)('disk and permission faults', () => {
  it('a full disk: exits naming the file and the cause, keeps what was written, resumes once there is room', async () => {
    const data = vesselFolder(12, 48);
    const disk = tmpfs('disk-full', '4m')!; // room for the run's JSON files, not for a checkpoint
    const out = join(disk, 'run');
    const r = await cli(['train', '--data', data, '--out', out, ...TINY]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(join(out, 'last.ckpt'));
    expect(r.stderr).toMatch(/the disk is full/);
    for (const f of ['config.json', 'split.json']) expect(() => JSON.parse(readFileSync(join(out, f), 'utf8'))).not.toThrow();
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    expect(lines.endsWith('\n')).toBe(true);
    expect(lines.trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1]);
    expect(existsSync(join(out, 'final.json'))).toBe(false);
    expect(tempFiles(out)).toEqual([]);

    remount(disk, 'size=1g');
    const again = await cli(['train', '--data', data, '--out', out, ...TINY, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'final.json'), 'utf8')).epochsRun).toBe(2);
  });

  it('a read-only output folder: exits naming the folder and the cause; the run already there is untouched', async () => {
    const data = vesselFolder(12, 48);
    const disk = tmpfs('disk-ro', '1g')!;
    const done = join(disk, 'done');
    expect((await cli(['train', '--data', data, '--out', done, ...TINY, '--epochs', '1'])).code).toBe(0);
    const before = Object.fromEntries(readdirSync(done).filter((f) => statSync(join(done, f)).isFile()).map((f) => [f, readFileSync(join(done, f))]));
    remount(disk, 'ro');
    const r = await cli(['train', '--data', data, '--out', join(disk, 'next'), ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot create the run folder ${join(disk, 'next')}: the file system is read-only (EROFS)`);
    const again = await cli(['train', '--data', data, '--out', done, ...TINY, '--epochs', '1', '--resume']);
    expect(again.code, again.stderr).toBe(0); // a finished run is reused without writing
    for (const [f, bytes] of Object.entries(before)) expect(readFileSync(join(done, f)).equals(bytes), f).toBe(true);
  });
});
