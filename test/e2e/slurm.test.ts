// The Slurm executor on a real Slurm: a one-node cluster of the test's own
// (test/helpers/slurm-cluster.ts). A small study goes through `--executor slurm` (one job
// array per dependency level, then the report job) and its tables equal the local
// executor's byte for byte (but for seconds per epoch); then one array task is cancelled
// while it trains, `status` lists it as failed with its log, and `--retry-failed`
// completes the study with the same tables. Skips visibly where Slurm cannot start (not
// installed, not root); in CI, where .ci/run installs it, a missing Slurm fails.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SlurmJobsFile } from '../../lib/scale/slurm.js';
import type { StudyStatus } from '../../lib/scale/status.js';
import { tempDir } from '../helpers/images.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../helpers/slurm-cluster.js';
import { FOUR_UNIT_STUDY, makeTestStudy, reportWithoutTimes } from '../helpers/study.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const why = slurmUnavailable();
if (why) {
  if (process.env.CI) throw new Error(`the Slurm test cannot run in CI: ${why}`);
  process.stderr.write(`[skip] Slurm executor tests: ${why}\n`);
}

let cluster: SlurmCluster | null = null;
let config = '';
let local = '';
const cli = (args: string[]): Promise<ProcessResult> => runProcess(process.execPath, [BIN, ...args], { env: cluster!.env });

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const status = async (dir: string): Promise<StudyStatus> => JSON.parse((await cli(['status', dir, '--json'])).stdout) as StudyStatus;
/** True once no job of the cluster is queued or running (but those that wait forever on a failed dependency). */
const queueIdle = () =>
  !execFileSync('squeue', ['-h', '-t', 'PENDING,RUNNING,CONFIGURING,COMPLETING', '-o', '%i %r'], { env: cluster!.env, encoding: 'utf8' })
    .split('\n')
    .some((l) => l.trim() && !/DependencyNeverSatisfied/.test(l));

describe.skipIf(why !== null)('--executor slurm on a one-node cluster', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    cluster = await startSlurm();
    process.stdout.write(`slurm: one-node cluster up in ${Date.now() - t0} ms (${cluster.dir})\n`);
    ({ config } = await makeTestStudy('slurm-data', { name: 'slurm test', ...FOUR_UNIT_STUDY }));
    local = tempDir('slurm-local');
    const r = await cli(['reproduce', '--config', config, '--out', local, '--executor', 'local', '--workers', '2']);
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);

  afterAll(() => cluster?.stop());

  it('job arrays per level, then the report job: the same tables as the local executor', async () => {
    const dir = tempDir('slurm-study');
    const dry = await cli([
      'reproduce', '--config', config, '--out', dir, '--executor', 'slurm', '--time', '10:00', '--sbatch-arg=--comment=thtl', '--partition', 'gpu', '--report-partition', 'cpu', '--dry-run',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(/dry run: nothing submitted/);
    expect(existsSync(join(dir, 'slurm', 'jobs.json'))).toBe(false);
    const script = readFileSync(join(dir, 'slurm', 'round-1', 'level-1.sbatch'), 'utf8');
    expect(script).toMatch(/#SBATCH --array=0-1\n/);
    expect(script).toMatch(/#SBATCH --time=10:00\n/);
    expect(script).toMatch(/#SBATCH --comment=thtl\n/);
    expect(script).toContain('resnet18.run-1.plusplus');
    expect(script).toMatch(/#SBATCH --partition=gpu\n/);
    const reportScript = readFileSync(join(dir, 'slurm', 'round-1', 'report.sbatch'), 'utf8');
    expect(reportScript).toMatch(/#SBATCH --partition=cpu\n/);
    expect(reportScript).not.toMatch(/--partition=gpu|--gpus-per-task/);

    const t0 = Date.now();
    const sub = await cli(['reproduce', '--config', config, '--out', dir, '--executor', 'slurm', '--time', '10:00', '--sbatch-arg=--comment=thtl']);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stderr).toMatch(/level 0: 2 unit\(s\) as array 0-1, job \d+/);
    expect(sub.stderr).toMatch(/level 1: 2 unit\(s\) as array 0-1, job \d+/);
    expect(sub.stderr).toMatch(/report: job \d+, after every level/);
    const jobs = JSON.parse(readFileSync(join(dir, 'slurm', 'jobs.json'), 'utf8')) as SlurmJobsFile;
    const [l0, l1, rep] = jobs.rounds[0]!.jobs;
    const dependency = execFileSync('scontrol', ['show', 'job', l1!.jobId!], { env: cluster!.env, encoding: 'utf8' });
    expect(dependency).toMatch(new RegExp(`Dependency=afterok:${l0!.jobId}`));
    expect(rep!.level).toBe('report');
    // a second submission while the first is under way is refused
    const twice = await cli(['reproduce', '--config', config, '--out', dir, '--executor', 'slurm', '--resume']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/still queued or running .* the study is already submitted/);

    await until('the report job', () => queueIdle() && existsSync(join(dir, 'report', 'tables.md')));
    process.stdout.write(`slurm: study of 4 units and the report through Slurm in ${Date.now() - t0} ms\n`);
    expect((await status(dir)).units.map((u) => u.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(reportWithoutTimes(dir)).toEqual(reportWithoutTimes(local));
  }, 240_000);

  it('a cancelled array task is listed as failed with its log; --retry-failed completes the study', async () => {
    const dir = tempDir('slurm-retry');
    const args = ['reproduce', '--config', config, '--out', dir, '--executor', 'slurm'];
    const sub = await cli(args);
    expect(sub.code, sub.stderr).toBe(0);
    const jobs = JSON.parse(readFileSync(join(dir, 'slurm', 'jobs.json'), 'utf8')) as SlurmJobsFile;
    const level0 = jobs.rounds[0]!.jobs[0]!;
    const task = level0.units.indexOf('resnet18.run-1.plus');
    // cancel the + model's task while it trains
    await until('the + model to start training', () => existsSync(join(dir, 'runs', 'resnet18', 'run-1', 'plus', 'run.lock')));
    execFileSync('scancel', [`${level0.jobId}_${task}`], { env: cluster!.env });
    await until('the other tasks to end', async () => queueIdle() && !(await status(dir)).units.some((u) => u.state === 'running' || u.state === 'queued'));
    const before = await status(dir);
    const plus = before.units.find((u) => u.unit.id === 'resnet18.run-1.plus')!;
    expect(plus.state).toBe('failed');
    expect(plus.detail).toMatch(/CANCELLED/);
    expect(plus.log).toBe(join(dir, 'slurm', 'logs', `round-1-level-0-${task}.out`));
    expect(before.units.filter((u) => u.state === 'blocked').map((u) => u.unit.id).sort()).toEqual(['resnet18.run-1.plusplus', 'resnet18.run-1.swft-step-2']);
    const text = await cli(['status', dir]);
    expect(text.stdout).toMatch(/failed \(logs\):\n {2}resnet18\.run-1\.plus: .*round-1-level-0-\d\.out/);

    const retry = await cli([...args, '--retry-failed']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toMatch(/cancelled job \d+: it waited on a unit that failed/);
    expect(retry.stderr).toMatch(/level 0: 1 unit\(s\) as array 0-0/);
    await until('the retried study and its report', () => queueIdle() && existsSync(join(dir, 'report', 'tables.md')));
    expect((await status(dir)).units.every((u) => u.state === 'done')).toBe(true);
    expect(reportWithoutTimes(dir)).toEqual(reportWithoutTimes(local));
  }, 240_000);
});
