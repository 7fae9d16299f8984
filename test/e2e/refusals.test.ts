// What the command line refuses, as a user meets it: the exact one-line message, the exit
// code (2: the command line cannot run as given; 1: the data, a file or the machine), and
// that nothing was written: a folder holding a finished run is byte-identical afterwards,
// and a folder that did not exist still does not. Real CLI, small real images.
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { snapshot } from '../helpers/folders.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--epochs', '2', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--threads', '1', '--no-cache'];

function cli(args: string[], cwd?: string): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args], cwd ? { cwd } : {});
}

/** A usage error: exit 2, the message line, then the hint line, nothing else. */
function usage(r: ProcessResult, message: RegExp, command = 'train'): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.split('\n');
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toBe(command ? `see thtl-native ${command} --help` : 'see thtl-native --help');
  expect(r.stdout).toBe('');
}

/** A failure: exit 1 and one line. */
function failure(r: ProcessResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(message)]);
}

let data: string;
let run: string;
let finished: Record<string, string>;

beforeAll(async () => {
  data = vesselFolder(10, 40);
  run = join(tempDir('refuse'), 'run');
  const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', run, ...TINY]);
  expect(r.code, r.stderr).toBe(0);
  finished = snapshot(run);
}, 300_000);

describe('a run folder is never overwritten or restarted by accident', () => {
  it('train into a finished run without --resume is refused, naming what is there and the two ways on', async () => {
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', run, ...TINY, '--epochs', '1']);
    usage(r, /^thtl-native: \S+\/run holds a finished run \(final\.json\); give --resume to go on with it, or --force to start over \(the old run is moved to \S+\/run\.replaced-<time>\)$/);
    expect(snapshot(run)).toEqual(finished);
  });

  it('train into an interrupted run without --resume is refused too', async () => {
    const partial = join(tempDir('partial'), 'run');
    cpSync(run, partial, { recursive: true });
    for (const f of ['final.json', 'weights.safetensors', 'predictions.csv']) rmSync(join(partial, f));
    const before = snapshot(partial);
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', partial, ...TINY]);
    usage(r, /holds an unfinished run \(2 finished epochs in metrics\.jsonl\); give --resume/);
    expect(snapshot(partial)).toEqual(before);
  });

  it('--resume reads the run\'s own config; a flag that would change the run is named in one line', async () => {
    const differs = await cli(['train', '--out', run, '--resume', '--epochs', '3', '--lr', '0.01']);
    usage(differs, /^thtl-native: --epochs: the run has 2, you gave 3; --lr: the run has 0\.001, you gave 0\.01 \(\S+\/run\); drop the flag to resume, or start a new run with another --out or --force$/);
    expect(snapshot(run)).toEqual(finished);
    // the run's own settings: nothing but --out and --resume, and a setting that does not change the run
    const same = await cli(['train', '--out', run, '--resume', '--threads', '1', '--epochs', '2']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toMatch(/finished before, reusing its results/);
    expect(same.stdout).toMatch(/epochs run 2/);
    expect(snapshot(run)).toEqual(finished);
  });

  it('--force moves the old run aside (never deleted) and starts over', async () => {
    const parent = tempDir('force');
    const target = join(parent, 'run');
    cpSync(run, target, { recursive: true });
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', target, ...TINY, '--epochs', '1', '--force']);
    expect(r.code, r.stderr).toBe(0);
    const aside = readdirSync(parent).filter((f) => f.startsWith('run.replaced-'));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^run\.replaced-\d{8}-\d{6}$/);
    expect(r.stderr).toContain(`moved the run that was in ${target} to ${join(parent, aside[0]!)}`);
    expect(snapshot(join(parent, aside[0]!))).toEqual(finished);
    expect(existsSync(join(target, 'final.json'))).toBe(true);
  });

  it('--resume and --force together are refused', async () => {
    usage(await cli(['train', '--out', run, '--resume', '--force']), /^thtl-native: --resume and --force cannot go together/);
    expect(snapshot(run)).toEqual(finished);
  });
});

describe('leaks and contradictions are refused before anything is written', () => {
  it('--val X --test X (the same folder) is refused; no run folder is made', async () => {
    const out = join(tempDir('leak'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--val', data, '--test', data, '--out', out, ...TINY]);
    failure(r, /^thtl-native: the validation and test folders are the same \(\S+\); a test set must not share images with training or validation$/);
    expect(existsSync(out)).toBe(false);
  });

  it('an image copied into val and test is refused with the count and an example', async () => {
    const root = tempDir('copies');
    const val = join(root, 'val');
    const test = join(root, 'test');
    cpSync(data, val, { recursive: true });
    cpSync(data, test, { recursive: true });
    const out = join(root, 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--val', val, '--test', test, '--out', out, ...TINY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^thtl-native: 20 images are in both train and val \(e\.g\. \S+ = \S+, same content\)/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('flags that contradict each other fail while the command line is read', async () => {
    const out = join(tempDir('contra'), 'run');
    usage(await cli(['train', '--model', 'resnet18', '--data', data, '--split-file', join(run, 'split.json'), '--out', out]), /^thtl-native: --data and --split-file cannot go together/);
    usage(await cli(['train', '--model', 'resnet18', '--data', data, '--no-cache', '--cache-dir', out, '--out', out]), /^thtl-native: --no-cache and --cache-dir cannot go together/);
    usage(await cli(['train', '--model', 'resnet18', '--split-file', join(run, 'split.json'), '--split', '0.5,0.5', '--out', out]), /^thtl-native: --split-file and --split cannot go together/);
    usage(await cli(['train', '--model', 'resnet18', '--data', data, '--patience', '0', '--out', out]), /^thtl-native: --patience must be a positive integer, got '0'$/);
    expect(existsSync(out)).toBe(false);
  });

  it('labels that differ only in case or spaces are refused, naming the variants and --label-normalize', async () => {
    const root = tempDir('labels');
    const files = readdirSync(join(data, 'malignant')).map((f) => join(data, 'malignant', f));
    const benign = readdirSync(join(data, 'benign')).map((f) => join(data, 'benign', f));
    const rows = [...benign.map((f) => `${f},benign`), ...files.map((f, i) => `${f},${i % 2 === 0 ? 'Malignant' : 'malignant'}`)];
    const csv = join(root, 'labels.csv');
    writeFileSync(csv, `path,label\n${rows.join('\n')}\n`);
    const out = join(root, 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', csv, '--out', out, ...TINY]);
    failure(r, /^thtl-native: manifest \S+labels\.csv: labels that differ only in case, spaces or Unicode form: 'Malignant', 'malignant' \(class malignant\); fix the labels or merge them with --label-normalize$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a weight file of another model is one line naming what it holds, before the run folder is made', async () => {
    const out = join(tempDir('wrongw'), 'run');
    const r = await cli(['train', '--model', 'mobilenet_v2', '--data', data, '--weights', join(run, 'weights.safetensors'), '--out', out, ...TINY]);
    failure(r, /^thtl-native: \S+weights\.safetensors holds resnet18 weights \(fc 512x2\), given for mobilenet_v2: tensors \d+ missing \(e\.g\. features\.0\.0\.weight\), \d+ unexpected \(e\.g\. conv1\.weight\); nothing was loaded$/);
    expect(existsSync(out)).toBe(false);
  });

  it('an image that does not decode stops the run before its folder is made; the message has no internal call names', async () => {
    const root = tempDir('trunc');
    const copy = join(root, 'images');
    cpSync(data, copy, { recursive: true });
    const victim = join(copy, 'benign', readdirSync(join(copy, 'benign'))[0]!);
    writeFileSync(victim, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const out = join(root, 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', copy, '--out', out, ...TINY]);
    expect(r.code).toBe(1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(new RegExp(`^thtl-native: ${victim.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(r.stderr).not.toMatch(/ImageSet\.|Session\.|skipBad/);
    expect(existsSync(out)).toBe(false);
  });

  it('a study config value is named by its key; no study folder is made', async () => {
    const root = tempDir('cfg');
    const config = join(root, 'study.json');
    writeFileSync(config, JSON.stringify({ experiments: [{ protocols: ['1'], models: ['resnet18'] }], target: data, recipe: { epochs: 'one' } }));
    const out = join(root, 'study');
    const r = await cli(['reproduce', '--config', config, '--out', out]);
    failure(r, /^thtl-native: \S+study\.json: recipe\.epochs must be a positive integer, got 'one'$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a study whose target has a class too small to split is refused before its folder is made', async () => {
    const root = tempDir('small');
    const target = join(root, 'target');
    cpSync(data, target, { recursive: true });
    for (const f of readdirSync(join(target, 'benign')).slice(2)) rmSync(join(target, 'benign', f));
    const out = join(root, 'study');
    const r = await cli(['experiment', '--protocol', '2', '--models', 'resnet18', '--target', target, '--out', out, '--epochs', '1']);
    failure(r, /^thtl-native: class 'benign' has 2 images, fewer than the 3 splits \(train, val, test\); add images or drop the class$/);
    expect(existsSync(out)).toBe(false);
  });

  it('--gpus on a machine without those GPUs is refused before any unit starts', async () => {
    let cuda = true;
    try {
      native().resolveDevice('cuda:1');
    } catch {
      cuda = false;
    }
    // on a machine with two GPUs this refusal cannot happen: the case then runs as asked
    if (cuda) return expect(cuda).toBe(true);
    const out = join(tempDir('gpus'), 'study');
    const r = await cli(['experiment', '--protocol', '2', '--models', 'resnet18', '--target', data, '--out', out, '--gpus', '0,1', '--epochs', '1']);
    usage(r, /^thtl-native: --gpus 0,1: device 'cuda:\d' requested but /, 'experiment');
    expect(existsSync(out)).toBe(false);
  });
});

describe('one-line errors', () => {
  it('a wrong value, a missing option, an unknown flag or command: one line and one hint, exit 2, no help text', async () => {
    usage(await cli(['train', '--epochs', 'x']), /^thtl-native: --epochs must be a positive integer, got 'x'$/);
    usage(await cli(['train', '--model', 'resnet18']), /^thtl-native: required option '--out <dir>' not specified$/);
    usage(await cli(['train', '--modl', 'x', '--out', 'y']), /^thtl-native: unknown option '--modl' \(did you mean --model\?\)$/);
    usage(await cli(['trian']), /^thtl-native: unknown command 'trian' \(did you mean train\?\)$/, '');
    usage(await cli(['cam', '--run', run, '--checkpoint', join(run, 'weights.safetensors'), '--out', join(tempDir('cam'), 'c')]), /^thtl-native: --run and --checkpoint cannot go together/, 'cam');
  });

  it('THTL_DEBUG=1 adds the stack trace', async () => {
    const out = join(tempDir('debug'), 'run');
    const args = ['train', '--model', 'resnet18', '--data', join(tempDir('nodata'), 'missing'), '--out', out];
    const plain = await runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, THTL_DEBUG: '' } });
    expect(plain.code).toBe(1);
    expect(plain.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const debug = await runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, THTL_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('a closed pipe ends the output quietly', async () => {
    const r = await runProcess('/bin/sh', ['-c', `"${process.execPath}" "${BIN}" models | head -1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model\s+input/);
    expect(r.stderr).toBe('');
  });
});
