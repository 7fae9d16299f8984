// Scale-out on one machine: `plan` writes plan.json, `run-unit` runs one unit (refusing a
// unit whose dependency has not finished, and a run folder another process is training
// into), `--executor local --workers 2` runs the units in parallel child processes with
// the same tables as a run in one process, and Ctrl-C stops every child with the study
// left resumable. Also each run's predictions.csv and the report's statistics built
// from it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { SplitFile } from '../../lib/split/index.js';
import type { PlanFile } from '../../lib/scale/plan-file.js';
import { mcnemarExact } from '../../lib/stats/tests.js';
import { readPredictions } from '../../lib/train/predictions.js';
import type { RunResult } from '../../lib/train/runner.js';
import type { StudyStatus } from '../../lib/scale/status.js';
import { tempDir } from '../helpers/images.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { FOUR_UNIT_STUDY, makeTestStudy, reportWithoutTimes } from '../helpers/study.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const cli = (args: string[]): Promise<ProcessResult> => runProcess(process.execPath, [BIN, ...args]);

let config = '';
let sequential = '';

beforeAll(async () => {
  ({ config } = await makeTestStudy('scale-data', { name: 'scale test', ...FOUR_UNIT_STUDY }));
  sequential = tempDir('scale-seq');
  const r = await cli(['reproduce', '--config', config, '--out', sequential]);
  expect(r.code, r.stderr).toBe(0);
}, 180_000);

async function waitFor(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('plan and run-unit', () => {
  it('plan.json lists the units with levels, dependencies, commands and outputs; run-unit runs them in order', async () => {
    const dir = tempDir('scale-plan');
    const p = await cli(['plan', '--config', config, '--out', dir]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/4 unit\(s\) in 2 dependency level\(s\)/);
    const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as PlanFile;
    expect(plan.levels).toEqual([
      ['resnet18.run-1.plus', 'resnet18.run-1.expt2'],
      ['resnet18.run-1.plusplus', 'resnet18.run-1.swft-step-2'],
    ]);
    const pp = plan.units.find((u) => u.id === 'resnet18.run-1.plusplus')!;
    expect(pp.dependsOn).toEqual(['resnet18.run-1.plus']);
    expect(pp.command.slice(-3)).toEqual(['run-unit', dir, 'resnet18.run-1.plusplus']);
    expect(pp.outputs).toContain('runs/resnet18/run-1/plusplus/final.json');
    expect(existsSync(join(dir, 'splits', 'target.json'))).toBe(true);

    // a unit whose dependency has not finished is refused, naming it
    const early = await cli(['run-unit', dir, 'resnet18.run-1.plusplus']);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/starts from resnet18\.run-1\.plus, which has not finished/);
    const unknown = await cli(['run-unit', dir, 'resnet18.run-9.plus']);
    expect(unknown.stderr).toMatch(/has no unit resnet18\.run-9\.plus; its 4 unit\(s\): resnet18\.run-1\.plus/);

    // every unit by its command from plan.json, in plan order (a unit by id or by folder)
    for (const u of plan.units) {
      const r = await runProcess(u.command[0]!, [...u.command.slice(1), '--threads', '1'], { cwd: plan.cwd });
      expect(r.code, r.stderr).toBe(0);
      for (const f of u.outputs) expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const status = await cli(['status', dir, '--json']);
    expect((JSON.parse(status.stdout) as StudyStatus).units.map((u) => u.state)).toEqual(['done', 'done', 'done', 'done']);

    // a process killed right after final.json leaves its epoch checkpoints and its lock: the
    // next run of the unit reuses the results and tidies the folder
    const plus = join(dir, 'runs', 'resnet18', 'run-1', 'plus');
    const files = readdirSync(plus).sort();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('close', r));
    writeFileSync(join(plus, 'last.ckpt'), 'x');
    writeFileSync(join(plus, 'best.ckpt'), 'x');
    writeFileSync(join(plus, 'run.lock'), JSON.stringify({ host: hostname(), pid: dead.pid, start: null, since: '2026-12-01T00:00:00Z', what: '' }));
    const again = await cli(['run-unit', dir, 'resnet18.run-1.plus']);
    expect(again.stdout).toMatch(/had finished before/);
    expect(readdirSync(plus).sort()).toEqual(files);
    const rep = await cli(['report', dir]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(reportWithoutTimes(dir)).toEqual(reportWithoutTimes(sequential));
  }, 180_000);

  it('a second process into a run folder being trained is refused, naming the first', async () => {
    const dir = tempDir('scale-lock');
    expect((await cli(['plan', '--config', config, '--out', dir])).code).toBe(0);
    const first = spawn(process.execPath, [BIN, 'run-unit', dir, 'resnet18.run-1.plus'], { stdio: 'ignore' });
    // listened for at once: the first run may end while the second command is still running
    const firstClosed = new Promise<number | null>((r) => first.on('close', r));
    const lock = join(dir, 'runs', 'resnet18', 'run-1', 'plus', 'run.lock');
    await waitFor('the first process to take the lock', () => existsSync(lock));
    const second = await cli(['run-unit', dir, 'resnet18.run-1.plus']);
    const firstCode = await firstClosed;
    expect(firstCode).toBe(0);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`is in use by another thtl-native process \\(pid ${first.pid} on .*training resnet18\\)`));
    expect(existsSync(lock)).toBe(false); // released at the end
  }, 120_000);
});

describe('--executor local', () => {
  it('two workers give the same tables as one process; logs per unit', async () => {
    const dir = tempDir('scale-local');
    const r = await cli(['reproduce', '--config', config, '--out', dir, '--executor', 'local', '--workers', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/local executor: 2 worker\(s\), 1 thread\(s\) each, 4 unit\(s\) to run/);
    // the + model's dependants start only after it
    const lines = r.stderr.split('\n');
    const finishedPlus = lines.findIndex((l) => /resnet18\.run-1\.plus: finished/.test(l));
    const startedPP = lines.findIndex((l) => /resnet18\.run-1\.plusplus: started/.test(l));
    expect(finishedPlus).toBeGreaterThanOrEqual(0);
    expect(startedPP).toBeGreaterThan(finishedPlus);
    expect(readFileSync(join(dir, 'logs', 'resnet18.run-1.plus.log'), 'utf8')).toMatch(/epoch\s+3/);
    expect(reportWithoutTimes(dir)).toEqual(reportWithoutTimes(sequential));
  }, 180_000);

  it('SIGINT stops every worker after its batch; the same command resumes to the same tables', async () => {
    const dir = tempDir('scale-int');
    const args = [BIN, 'reproduce', '--config', config, '--out', dir, '--workers', '2', '--resume'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await waitFor('a unit to start training', () => /epoch\s+1 /.test(stderr));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopping \d running unit\(s\) after their current batch/);
    expect(stderr).toMatch(/interrupted \(SIGINT\)/);
    // no worker is left behind: every lock is released
    const status = JSON.parse((await cli(['status', dir, '--json'])).stdout) as StudyStatus;
    expect(status.units.some((u) => u.state === 'running')).toBe(false);
    const again = await cli(args.slice(1));
    expect(again.code, again.stderr).toBe(0);
    expect(reportWithoutTimes(dir)).toEqual(reportWithoutTimes(sequential));
  }, 180_000);

  it('flags of another executor are refused', async () => {
    const r = await cli(['reproduce', '--config', config, '--out', tempDir('scale-bad'), '--workers', '2', '--partition', 'gpu']);
    // a usage error: exit 2, one line and the hint
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('thtl-native: --partition need --executor slurm\nsee thtl-native reproduce --help\n');
  });
});

describe('predictions and the report statistics', () => {
  it('predictions.csv holds every val and test image; the comparisons follow from them; a rebuilt report is identical', async () => {
    const run = (unit: string) => join(sequential, 'runs', 'resnet18', 'run-1', unit);
    const final = JSON.parse(readFileSync(join(run('swft-step-2'), 'final.json'), 'utf8')) as RunResult;
    const rows = readPredictions(join(run('swft-step-2'), 'predictions.csv'), final.classes);
    const split = JSON.parse(readFileSync(join(run('swft-step-2'), 'split.json'), 'utf8')) as SplitFile;
    const test = rows.filter((r) => r.split === 'test');
    expect(rows.filter((r) => r.split === 'val').map((r) => r.file)).toEqual(split.val.map((e) => e.file));
    expect(test.map((r) => r.file)).toEqual(split.test.map((e) => e.file));
    expect(test.filter((r) => r.label === r.predicted).length / test.length).toBeCloseTo(final.test!.accuracy, 12);

    // the run row of "SWFT step 2 vs step 1": McNemar of the two runs' test predictions
    const csv = readFileSync(join(sequential, 'report', 'comparisons.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const head = csv[0]!;
    const row = csv.find((r) => r[1] === 'SWFT step 2 vs step 1' && r[2] === '1')!;
    expect(row, csv.map((r) => r.join(',')).join('\n')).toBeDefined();
    const step1 = readPredictions(join(run('plusplus'), 'predictions.csv'), final.classes).filter((r) => r.split === 'test');
    const mc = mcnemarExact(test.map((r) => r.label === r.predicted), step1.map((r) => r.label === r.predicted));
    expect(Number(row[head.indexOf('accuracy_p')])).toBeCloseTo(mc.p, 12);
    expect(row[head.indexOf('accuracy_test')]).toBe('mcnemar');
    expect(readFileSync(join(sequential, 'report', 'run-intervals.md'), 'utf8')).toMatch(/\| resnet18\+\+ step 2 \| swft 2 \| 1 \|/);

    const before = reportWithoutTimes(sequential);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['comparisons.md', 'comparisons.csv', 'run-intervals.csv', 'statistics.json']));
    expect((await cli(['report', sequential])).code).toBe(0);
    expect(reportWithoutTimes(sequential)).toEqual(before);
  });
});
