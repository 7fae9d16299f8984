// `train --folds K`: patient-grouped stratified k-fold cross-validation through the real
// CLI, tiny: folds.json and one complete run folder per fold, every image tested once, no
// patient in two folds, cv.json's pooled and mean metrics recomputed from the fold runs'
// own files, the folder guard (refused without --resume, byte-identical), --resume reusing
// every fold, and the refusals of the command line and of the data.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { snapshot } from '../helpers/folders.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import type { SplitFile } from '../../lib/split/file.js';
import type { CvSummary } from '../../lib/train/cv.js';
import { readPredictions } from '../../lib/train/predictions.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--model', 'resnet18', '--input-size', '32', '--epochs', '1', '--batch-size', '8', '--threads', '1', '--device', 'cpu', '--no-cache'];
const PER_CLASS = 24;
const PATIENTS_PER_CLASS = 8;

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

/** A usage error: exit 2, the message line, then the hint line, nothing on stdout. */
function usage(r: ProcessResult, message: string | RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.split('\n');
  expect(lines).toHaveLength(3);
  if (typeof message === 'string') expect(lines[0]).toBe(`thtl-native: ${message}`);
  else expect(lines[0]).toMatch(message);
  expect(lines[1]).toBe('see thtl-native train --help');
  expect(r.stdout).toBe('');
}

/** A failure of the work: exit 1 and one line. */
function failure(r: ProcessResult, message: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.split('\n').filter(Boolean)).toEqual([`thtl-native: ${message}`]);
}

let manifest: string;
let files: string[];
let out: string;
let first: ProcessResult;

/** A manifest path,label,group over a vessel ImageFolder: 8 patients per class, 3 images each. */
function patientManifest(): string {
  const images = vesselFolder(PER_CLASS, 40);
  const root = dirname(images);
  const lines = ['path,label,group'];
  files = [];
  for (const label of ['benign', 'malignant'])
    readdirSync(join(images, label))
      .sort()
      .forEach((f, i) => {
        const path = join(images, label, f);
        files.push(path);
        lines.push(`${relative(root, path)},${label},${label}-p${i % PATIENTS_PER_CLASS}`);
      });
  const path = join(root, 'manifest.csv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const args = (extra: string[] = []): string[] => ['train', ...TINY, '--data', manifest, '--folds', '3', '--group-by', 'patient', '--out', out, ...extra];
const foldSplit = (k: number): SplitFile => JSON.parse(readFileSync(join(out, `fold-${k}`, 'split.json'), 'utf8')) as SplitFile;
const cvJson = (): CvSummary => JSON.parse(readFileSync(join(out, 'cv.json'), 'utf8')) as CvSummary;

beforeAll(async () => {
  manifest = patientManifest();
  out = join(tempDir('cv'), 'cv');
  first = await cli(args());
}, 600_000);

describe('train --folds 3 --group-by patient', () => {
  it('writes folds.json, three complete fold runs, cv.json and cv.md, and prints the cv.md table', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(out, 'folds.json'))).toBe(true);
    for (let k = 1; k <= 3; k++)
      for (const f of ['config.json', 'split.json', 'predictions.csv', 'model-card.md', 'final.json', 'metrics.jsonl', 'weights.safetensors', 'tb'])
        expect(existsSync(join(out, `fold-${k}`, f)), `fold-${k}/${f}`).toBe(true);
    expect(readdirSync(out).filter((f) => f.startsWith('fold-')).sort()).toEqual(['fold-1', 'fold-2', 'fold-3']);
    const md = readFileSync(join(out, 'cv.md'), 'utf8');
    expect(md).toMatch(/^# Cross-validation: resnet18, 3 folds grouped by patient/);
    expect(md).toMatch(/\| mean ± std \|/);
    expect(md).toMatch(/\| accuracy \| \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\] \|/);
    expect(first.stdout).toContain(md);
    expect(first.stdout).toContain(`cross-validation folder: ${out}`);
  });

  it('tests every image in exactly one fold; no patient is in two folds, nor in two parts of a fold', () => {
    const tested = [1, 2, 3].flatMap((k) => foldSplit(k).test.map((e) => e.file));
    expect(tested.sort()).toEqual([...files].sort());
    const foldOf = new Map<string, number>();
    for (const k of [1, 2, 3]) {
      const s = foldSplit(k);
      expect(s.fold).toEqual({ k: k - 1, of: 3 });
      for (const e of s.test) {
        expect(foldOf.get(e.group!) ?? k, `patient ${e.group}`).toBe(k);
        foldOf.set(e.group!, k);
      }
      const partOf = new Map<string, string>();
      for (const part of ['train', 'val', 'test'] as const)
        for (const e of s[part]) {
          expect(partOf.get(e.group!) ?? part, `fold ${k} patient ${e.group}`).toBe(part);
          partOf.set(e.group!, part);
        }
      expect(s.train.length + s.val.length + s.test.length).toBe(files.length);
      expect(s.val.length).toBeGreaterThan(0);
    }
    expect(foldOf.size).toBe(2 * PATIENTS_PER_CLASS);
  });

  it("cv.json: pooled n is the dataset, its accuracy the fold predictions' test rows', its mean the folds' final.json mean", () => {
    const cv = cvJson();
    const finals = [1, 2, 3].map((k) => JSON.parse(readFileSync(join(out, `fold-${k}`, 'final.json'), 'utf8')) as { classes: string[]; bestEpoch: number; test: { accuracy: number; n: number } });
    const rows = [1, 2, 3].flatMap((k) => readPredictions(join(out, `fold-${k}`, 'predictions.csv'), finals[0]!.classes).filter((p) => p.split === 'test'));
    expect(cv.pooled.n).toBe(files.length);
    expect(rows).toHaveLength(files.length);
    expect(new Set(rows.map((p) => p.file)).size).toBe(files.length);
    expect(cv.pooled.accuracy.estimate).toBeCloseTo(rows.filter((p) => p.label === p.predicted).length / rows.length, 12);
    expect(cv.pooled.accuracy.lo).toBeLessThanOrEqual(cv.pooled.accuracy.estimate);
    expect(cv.pooled.accuracy.hi).toBeGreaterThanOrEqual(cv.pooled.accuracy.estimate);
    expect(cv.pooled.bootstrap.by).toBe('patient');
    expect(cv.pooled.bootstrap.clusters).toBe(2 * PATIENTS_PER_CLASS);
    expect(cv.pooled.patients).toBe(2 * PATIENTS_PER_CLASS);
    const accs = finals.map((f) => f.test.accuracy);
    const m = accs.reduce((a, b) => a + b, 0) / 3;
    expect(cv.mean.accuracy).toBeCloseTo(m, 12);
    expect(cv.std.accuracy).toBeCloseTo(Math.sqrt(accs.reduce((a, x) => a + (x - m) ** 2, 0) / 2), 12);
    expect(cv.perFold.map((f) => f.images)).toEqual(finals.map((f) => f.test.n));
    expect(cv.perFold.map((f) => f.bestEpoch)).toEqual(finals.map((f) => f.bestEpoch));
    expect(cv.valRatio).toBeCloseTo(0.2 / 0.9, 12);
    expect(cv.pooled.ece).toBeGreaterThanOrEqual(0);
  });
});

describe('the cross-validation folder is never overwritten by accident; --resume reuses it', () => {
  it('a rerun without --resume is refused (exit 2) and leaves the folder byte-identical', async () => {
    const before = snapshot(out);
    const r = await cli(args());
    usage(r, `${out} holds a finished cross-validation (folds.json); give --resume to go on with it, or --force to start over (the old folder is moved to ${out}.replaced-<time>)`);
    expect(snapshot(out)).toEqual(before);
    // a single run into it is refused alike, and --resume without --folds names --folds
    usage(await cli(['train', ...TINY, '--data', manifest, '--out', out]), /holds a finished cross-validation \(folds\.json\); give --resume/);
    usage(await cli(['train', '--out', out, '--resume']), `${out} holds a finished cross-validation (folds.json); give --folds with --resume to go on with it`);
    usage(await cli(['train', '--out', out, '--resume', '--folds', '4']), `--folds: the cross-validation has 3, you gave 4 (${out}); give --folds 3 to resume, or start a new one with another --out or --force`);
    expect(snapshot(out)).toEqual(before);
  });

  it('--resume reuses folds.json and every finished fold; the folder stays byte-identical', async () => {
    const before = snapshot(out);
    const r = await cli(args(['--resume', '--json']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/finished before, reusing its results/g)).toHaveLength(3);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string } & Partial<CvSummary>);
    expect(events.filter((e) => e.event === 'epoch')).toEqual([]);
    const result = events.at(-1)!;
    expect(result.event).toBe('result');
    expect(result.pooled).toEqual(cvJson().pooled);
    expect(snapshot(out)).toEqual(before);
    // the settings come from the folder: --out, --folds and --resume are enough
    const bare = await cli(['train', '--out', out, '--folds', '3', '--resume', '--quiet']);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toMatch(/^pooled over 3 folds \(48 images\): accuracy /);
    expect(snapshot(out)).toEqual(before);
  });
});

describe('refusals', () => {
  it('--folds below 2, with --split-file or with --val/--test: usage errors, no folder made', async () => {
    const none = join(tempDir('cv-refused'), 'cv');
    usage(await cli(['train', ...TINY, '--data', manifest, '--folds', '1', '--out', none]), /--folds must be an integer of at least 2, got '1'/);
    usage(await cli(['train', ...TINY, '--data', manifest, '--folds', 'x', '--out', none]), /--folds must be an integer of at least 2, got 'x'/);
    const split = join(out, 'fold-1', 'split.json');
    usage(
      await cli(['train', ...TINY, '--split-file', split, '--folds', '3', '--out', none]),
      "--folds and --split-file cannot go together: the folds make each fold's train, validation and test parts from --data",
    );
    const d = dirname(files[0]!);
    usage(
      await cli(['train', ...TINY, '--data', manifest, '--val', d, '--test', d, '--folds', '3', '--out', none]),
      "--folds and --val cannot go together: the folds make each fold's train, validation and test parts from --data",
    );
    expect(existsSync(none)).toBe(false);
  });

  it('more folds than patients, or a class with fewer patients than folds: one line naming --folds, no folder made', async () => {
    const none = join(tempDir('cv-refused'), 'cv');
    failure(
      await cli(['train', ...TINY, '--data', manifest, '--group-by', 'patient', '--folds', '17', '--out', none]),
      '--folds is 17 but the data has 16 patients; --folds must be between 2 and the number of patients (16)',
    );
    failure(
      await cli(['train', ...TINY, '--data', manifest, '--group-by', 'patient', '--folds', '9', '--out', none]),
      "classes 'benign' (8 patients), 'malignant' (8 patients) have fewer patients than --folds (9), so a fold would miss them; lower --folds, add patients or drop those classes",
    );
    expect(existsSync(none)).toBe(false);
  });

  it('--resume on a dataset that changed since folds.json is refused in one line, the folder untouched', async () => {
    const before = snapshot(out);
    const text = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, `${text.trim().split('\n').slice(0, -1).join('\n')}\n`);
    try {
      failure(
        await cli(args(['--resume'])),
        `${join(out, 'folds.json')} was made with other settings: --data: it has 48 images, this one 47; give another --out, or --force to start over`,
      );
    } finally {
      writeFileSync(manifest, text);
    }
    expect(snapshot(out)).toEqual(before);
  });
});
