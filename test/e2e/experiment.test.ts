// `thtl-native experiment` end to end on tiny synthetic domains: the plan runs, a study
// killed at any moment resumes (finished runs are not repeated, an interrupted run goes on
// from its last epoch) and its results equal an uninterrupted study's; `report` rebuilds
// the same files. CPU, one thread, so training is deterministic.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { collectRecords } from '../../lib/experiment/study-folder.js';
import { makeTestStudy } from '../helpers/study.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir } from '../helpers/images.js';
import { snapshot } from '../helpers/folders.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

/** Starts the CLI and SIGKILLs it once `until(stderr so far)` holds (polled), or after `ms`; resolves with its output. */
function killed(args: string[], until: (stderr: string) => boolean, ms = 120_000): Promise<{ stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let wasKilled = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t0 = Date.now();
    const timer = setInterval(() => {
      if (until(stderr) || Date.now() - t0 > ms) {
        wasKilled = true;
        child.kill('SIGKILL');
        clearInterval(timer);
      }
    }, 20);
    child.on('error', reject);
    child.on('close', () => {
      clearInterval(timer);
      resolve({ stdout, stderr, killed: wasKilled });
    });
  });
}

let data = '';
let config = '';

/** Test data, initial weights standing in for ImageNet, and a study config using them. */
beforeAll(async () => {
  ({ data, config } = await makeTestStudy('study-data', {
    name: 'resume test',
    experiments: [{ protocols: ['2', '4', 'swft'], models: ['resnet18'], steps: [1, 2] }],
    images: 40,
    runs: 2,
    epochs: 3,
  }));
}, 120_000);

/** The results that must not depend on interruptions: everything but wall-clock time. */
function results(dir: string): unknown {
  return collectRecords(dir).records.map(({ avgEpochSeconds: _, ...r }) => r);
}

describe('thtl-native experiment', () => {
  it('a study killed twice resumes and ends with the same results as an uninterrupted one', async () => {
    const straight = tempDir('study-a');
    const a = await cli(['reproduce', '--config', config, '--out', straight]);
    expect(a.code, a.stderr).toBe(0);
    const recA = collectRecords(straight).records;
    // 2 runs x (expt2, +, ++, swft step 1 (= ++), swft step 2)
    expect(recA).toHaveLength(10);
    expect(recA.filter((r) => r.stage === 'swft').map((r) => r.step)).toEqual([1, 2, 1, 2]);
    expect(new Set(recA.map((r) => r.seed)).size).toBe(2);

    const resumed = tempDir('study-b');
    // --resume from the first call: a study folder that holds a study is taken up only with it
    const args = ['reproduce', '--config', config, '--out', resumed, '--resume'];
    // kill 1: in the middle of the second + model, after its first epoch checkpoint
    const plus2 = join(resumed, 'runs', 'resnet18', 'run-2', 'plus');
    const k1 = await killed(args, () => existsSync(join(plus2, 'last.ckpt')));
    expect(k1.killed).toBe(true);
    expect(existsSync(join(resumed, 'runs', 'resnet18', 'run-1', 'plus', 'final.json'))).toBe(true);
    // kill 2: a moment after the next attempt has resumed the interrupted run (a fixed
    // delay from the start is not enough on a loaded machine: the kill can come before it)
    let resumedAt = 0;
    const k2 = await killed(args, (err) => {
      if (!resumedAt && /resuming .*run-2\/plus after epoch/.test(err)) resumedAt = Date.now();
      return resumedAt > 0 && Date.now() - resumedAt > 300;
    });
    expect(k2.killed).toBe(true);
    expect(k2.stderr).toMatch(/run-1\/plus: finished before, reusing its results/);
    expect(k2.stderr).toMatch(/resuming .*run-2\/plus after epoch [12]/);
    const b = await cli(args);
    expect(b.code, b.stderr).toBe(0);
    expect(results(resumed)).toEqual(results(straight));
    // no epoch is lost or repeated in the resumed run's history
    const epochs = readFileSync(join(plus2, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    expect(epochs).toEqual([1, 2, 3]);
    // finished runs keep their weights, not their optimiser checkpoints
    expect(readdirSync(plus2).sort()).toEqual(['config.json', 'final.json', 'metrics.jsonl', 'model-card.md', 'predictions.csv', 'split.json', 'tb', 'weights.safetensors']);

    // a third call does nothing but the report
    const c = await cli(args);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).not.toMatch(/epoch\s+1\s+train loss/);

    // `report` rebuilds the same files
    const before = readdirSync(join(resumed, 'report')).map((f) => [f, readFileSync(join(resumed, 'report', f))] as const);
    expect(before.map(([f]) => f)).toContain('tables.md');
    const r = await cli(['report', resumed]);
    expect(r.code, r.stderr).toBe(0);
    for (const [f, bytes] of before) expect(readFileSync(join(resumed, 'report', f)).equals(bytes), f).toBe(true);
  }, 600_000);

  it('a missing ImageNet weight file is reported before any training, naming it', async () => {
    const r = await cli([
      'experiment', '--protocol', '1,3', '--models', 'resnet18,resnet50', '--target', join(data, 'target'),
      '--weights-dir', tempDir('noweights'), '--out', tempDir('study-c'), '--epochs', '1',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/resnet18-f37072fd\.pth does not exist/);
    expect(r.stderr).toMatch(/resnet50-0676ba61\.pth does not exist/);
    expect(r.stderr).not.toMatch(/epoch\s+1/);
  });

  it('a study folder is taken up only with --resume and the same settings, or replaced with --force (moved aside whole)', async () => {
    const out = tempDir('study-d');
    const base = ['experiment', '--protocol', '2', '--models', 'resnet18', '--target', join(data, 'target'), '--out', out, '--runs', '1',
      '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--threads', '1'];
    const a = await cli([...base, '--epochs', '1']);
    expect(a.code, a.stderr).toBe(0);
    const before = snapshot(out);
    // without --resume the folder is refused, naming what it holds and the two ways on
    const again = await cli([...base, '--epochs', '1']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^thtl-native: .*study-d\S* holds a study \(\d+ of \d+ report rows finished\); give --resume to go on with it, or --force to start over/);
    const b = await cli([...base, '--epochs', '2', '--resume']);
    expect(b.code).toBe(2);
    expect(b.stderr.split('\n')[0]).toMatch(/^thtl-native: recipe\.epochs: the study has 1, you gave 2 \(.*\); drop the change to resume/);
    const c = await cli([...base, '--epochs', '1', '--target-split', '0.6,0.2,0.2', '--resume']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/targetSplit: the study has \[0\.7,0\.2,0\.1\], you gave \[0\.6,0\.2,0\.2\]/);
    expect(snapshot(out)).toEqual(before);
    // --force moves the study aside, whole, and starts over
    const d = await cli([...base, '--epochs', '1', '--force']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/moved the study that was in .*study-d\S* to .*study-d\S*\.replaced-\d{8}-\d{6}/);
    const aside = readdirSync(dirname(out)).filter((f) => f.startsWith(`${basename(out)}.replaced-`));
    expect(aside).toHaveLength(1);
    expect(snapshot(join(dirname(out), aside[0]!))).toEqual(before);
  });
});
