// The pieces of scale-out that need no cluster: plan levels and ids, sbatch scripts,
// squeue/sacct parsing, the executor flags, worker threads, and the folder lock.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { executorChoice } from '../../lib/commands/scale.js';
import { planStudy } from '../../lib/experiment/plan.js';
import { acquireLock, LockBusyError, type LockHolder } from '../../lib/util/lock.js';
import { workerThreads } from '../../lib/scale/local.js';
import { planUnits, unitId } from '../../lib/scale/plan-file.js';
import { expandTasks, parseSacct, parseSqueue, sbatchScript, shellQuote } from '../../lib/scale/slurm.js';
import { tempDir } from '../helpers/images.js';

const groups = (model: string) => (model === 'resnet50' ? ['fc', 'layer4', 'layer3', 'layer2', 'layer1', 'stem'] : ['classifier', 'features']);

describe('plan units', () => {
  it("the paper's grid: + models and ImageNet runs at level 0, everything from a + model at level 1", () => {
    const plan = planStudy(
      { runs: 3, seed: 123, experiments: [{ protocols: ['1', '2', '3', '4'], models: ['resnet50', 'vgg19'] }, { protocols: ['swft', 'lora-swft'], models: ['resnet50'] }] },
      groups,
    );
    const units = planUnits(plan.units, '/s');
    // 3 runs x (resnet50: 1, 2, 3, +, ++, SWFT 2..6, LoRA 2..6 = 15; vgg19: 1, 2, 3, +, ++ = 5)
    expect(units).toHaveLength(60);
    expect(new Set(units.map((u) => u.id)).size).toBe(60);
    for (const u of units) {
      expect(u.level).toBe(u.dependsOn.length === 0 ? 0 : 1);
      if (u.dependsOn.length > 0) expect(u.dependsOn[0]).toMatch(/\.plus$/);
      expect(u.command.slice(-3)).toEqual(['run-unit', '/s', u.id]);
    }
    expect(units.filter((u) => u.level === 0)).toHaveLength(24);
    expect(unitId({ dir: 'runs/resnet50/run-2/lora-step-4' })).toBe('resnet50.run-2.lora-step-4');
  });
});

describe('sbatch scripts', () => {
  it('an array job runs the unit of its task, with the options given', () => {
    const text = sbatchScript(
      { name: 'thtl-x-L0', units: ['a.run-1.plus', "b's"], log: '/s/slurm/logs/round-1-level-0-%a.out', cwd: '/work dir', command: ['/usr/bin/node', '/p/bin/thtl-native.js', 'run-unit', '/s'], comment: 'level 0' },
      { partition: 'gpu', gpusPerTask: 1, cpusPerTask: 8, time: '8:00:00', sbatchArgs: ['--account=proj', '--qos=normal'] },
    );
    expect(text).toBe(
      [
        '#!/bin/bash',
        '#SBATCH --job-name=thtl-x-L0',
        '#SBATCH --array=0-1',
        '#SBATCH --output=/s/slurm/logs/round-1-level-0-%a.out',
        '#SBATCH --chdir=/work dir',
        '#SBATCH --ntasks=1',
        '#SBATCH --partition=gpu',
        '#SBATCH --gpus-per-task=1',
        '#SBATCH --cpus-per-task=8',
        '#SBATCH --time=8:00:00',
        '#SBATCH --account=proj',
        '#SBATCH --qos=normal',
        '# level 0',
        'set -euo pipefail',
        'units=(',
        '  a.run-1.plus',
        `  'b'\\''s'`,
        ')',
        'exec /usr/bin/node /p/bin/thtl-native.js run-unit /s "${units[$SLURM_ARRAY_TASK_ID]}"',
        '',
      ].join('\n'),
    );
    expect(shellQuote('/a b/c')).toBe("'/a b/c'");
  });
});

describe('squeue and sacct', () => {
  it('array tasks, pending ranges, single jobs and throttles', () => {
    expect(expandTasks('0-3,7,9-10%2')).toEqual([0, 1, 2, 3, 7, 9, 10]);
    const q = parseSqueue(['17|1|17_1|RUNNING|None', '17|[2-3]|17_[2-3]|PENDING|Resources', '18|0-1|18_[0-1]|PENDING|DependencyNeverSatisfied', '19|N/A|19|PENDING|Dependency', ''].join('\n'));
    expect(Object.fromEntries(q)).toEqual({
      '17_1': { state: 'RUNNING', reason: 'None' },
      '17_2': { state: 'PENDING', reason: 'Resources' },
      '17_3': { state: 'PENDING', reason: 'Resources' },
      '18_0': { state: 'PENDING', reason: 'DependencyNeverSatisfied' },
      '18_1': { state: 'PENDING', reason: 'DependencyNeverSatisfied' },
      '19': { state: 'PENDING', reason: 'Dependency' },
    });
    const a = parseSacct(['12_0|COMPLETED', '12_1|CANCELLED by 0', '12_[2-3]|PENDING', '13|FAILED'].join('\n'));
    expect(a.get('12_1')?.state).toBe('CANCELLED');
    expect(a.get('12_3')?.state).toBe('PENDING');
    expect(a.get('13')?.state).toBe('FAILED');
  });
});

describe('executor flags', () => {
  it('picks the executor and refuses flags of another', () => {
    expect(executorChoice({})).toEqual({ kind: 'sequential', local: {} });
    expect(executorChoice({ workers: 2 })).toEqual({ kind: 'local', local: { workers: 2 } });
    expect(executorChoice({ executor: 'local', gpus: ['0', '1'] })).toEqual({ kind: 'local', local: { workers: 1, gpus: ['0', '1'] } });
    expect(executorChoice({ executor: 'slurm', partition: 'gpu', gpusPerTask: 1, sbatchArg: ['--qos=x'], dryRun: true })).toEqual({
      kind: 'slurm',
      slurm: { partition: 'gpu', gpusPerTask: 1, sbatchArgs: ['--qos=x'], dryRun: true, retryFailed: false },
    });
    expect(executorChoice({ executor: 'slurm', partition: 'gpu', reportPartition: 'cpu' })).toMatchObject({ kind: 'slurm', slurm: { partition: 'gpu', reportPartition: 'cpu' } });
    expect(() => executorChoice({ partition: 'gpu' })).toThrow('--partition need --executor slurm');
    expect(() => executorChoice({ reportPartition: 'cpu' })).toThrow('--report-partition need --executor slurm');
    expect(() => executorChoice({ executor: 'local', retryFailed: true })).toThrow('--retry-failed need --executor slurm');
    expect(() => executorChoice({ executor: 'slurm', workers: 2 })).toThrow(/--workers and --gpus are for --executor local/);
    expect(() => executorChoice({ executor: 'sequential', workers: 2 })).toThrow(/need --executor local/);
  });

  it('workers share the cores unless the recipe fixes the threads', () => {
    expect(workerThreads(0, 2, 16)).toBe(8);
    expect(workerThreads(0, 4, 2)).toBe(1);
    expect(workerThreads(3, 4, 2)).toBe(3);
  });
});

describe('folder lock', () => {
  it('one holder at a time; a second is told who holds it; released on request', () => {
    const path = join(tempDir('lock'), 'run.lock');
    const release = acquireLock(path, 'run folder X', 'training resnet18');
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    expect(holder).toMatchObject({ pid: process.pid, host: hostname(), what: 'training resnet18' });
    let err: unknown;
    try {
      acquireLock(path, 'run folder X');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockBusyError);
    expect((err as Error).message).toMatch(new RegExp(`^run folder X is in use by another thtl-native process \\(pid ${process.pid} on ${hostname()}, since .*training resnet18\\); wait for it to end, or remove ${path}`));
    release();
    expect(existsSync(path)).toBe(false);
    acquireLock(path, 'run folder X')();
  });

  it('a lock whose process is gone (or whose pid now belongs to another process) is taken over; another host is trusted', async () => {
    const dir = tempDir('lock-stale');
    const path = join(dir, 'run.lock');
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((r) => child.on('close', r));
    const stale = (h: Partial<LockHolder>) => writeFileSync(path, JSON.stringify({ host: hostname(), pid: deadPid, start: null, since: '2026-01-01T00:00:00Z', what: '', ...h }));
    stale({});
    acquireLock(path, 'X')();
    stale({ pid: process.pid, start: 1 }); // this pid, but a process that started at another time
    acquireLock(path, 'X')();
    stale({ host: 'another-node' });
    expect(() => acquireLock(path, 'X')).toThrow(/in use by another thtl-native process \(pid \d+ on another-node/);
  });
});
