// `thtl-native evaluate` and `predict` on a tiny finished run: the run's own test metrics
// and probabilities come back exactly; class names that differ are refused and mapped;
// an existing --out is refused without --force; --tta flip is the mean over mirrored
// copies; predict --cam writes a LayerCAM map per image.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { parseCsv } from '../../lib/data/csv.js';
import { logitsFromProbs, temperatureNll } from '../../lib/stats/calibration.js';
import { readPredictions } from '../../lib/train/predictions.js';
import { scaleProbs, type RunCalibration } from '../../lib/train/temperature.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const FAST = ['--threads', '1', '--device', 'cpu', '--no-cache'];

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

interface Report {
  accuracy: number;
  auc: number | null;
  n: number;
  perClass: { name: string; precision: number; recall: number; f1: number; support: number }[];
  macro: Record<string, number>;
  confusion: number[][];
}

const csv = (path: string): string[][] => parseCsv(readFileSync(path, 'utf8'), ',').filter((r) => !(r.length === 1 && r[0] === ''));

describe('thtl-native evaluate / predict', () => {
  let dir: string;
  let run: string;
  let testFiles: string[];

  beforeAll(async () => {
    dir = tempDir('evaluate');
    run = join(dir, 'run');
    const data = vesselFolder(10, 48);
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', run, '--epochs', '1', '--input-size', '32', '--batch-size', '4', ...FAST]);
    expect(r.code, r.stderr).toBe(0);
    testFiles = (JSON.parse(readFileSync(join(run, 'split.json'), 'utf8')) as { test: { file: string }[] }).test.map((e) => e.file);
  }, 600_000);

  it("evaluate --split-file R/split.json --split test gives the run's test metrics and predictions exactly", async () => {
    const out = join(dir, 'eval');
    const r = await cli(['evaluate', '--run', run, '--split-file', join(run, 'split.json'), '--split', 'test', '--out', out, ...FAST]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^accuracy \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\].*95% bootstrap by image\); ECE \d\.\d{4}\n$/);
    const final = JSON.parse(readFileSync(join(run, 'final.json'), 'utf8')) as { test: Report };
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Report & {
      split: string;
      tta: string;
      calibration: { ece: number; mce: number; brier: number; multiclassBrier: null; bins: unknown[] };
      kappa: null;
      ovrAuc: null;
      bootstrap: { by: string; intervals: { accuracy: { estimate: number } } };
      figures: string[];
    };
    expect(m.accuracy).toBe(final.test.accuracy);
    expect(m.auc).toBe(final.test.auc);
    expect(m.n).toBe(final.test.n);
    expect(m.confusion).toEqual(final.test.confusion);
    expect(m.perClass).toEqual(final.test.perClass);
    expect(m.macro).toEqual(final.test.macro);
    expect(m.split).toBe('test');
    expect(m.tta).toBe('none');
    expect(m.calibration.bins).toHaveLength(16);
    expect(m.calibration.ece).toBeGreaterThanOrEqual(0);
    expect(m.calibration.mce).toBeGreaterThanOrEqual(m.calibration.ece - 1e-12);
    expect(m.calibration.brier).toBeGreaterThanOrEqual(0);
    expect([m.kappa, m.ovrAuc, m.calibration.multiclassBrier]).toEqual([null, null, null]);
    expect(m.bootstrap.by).toBe('image');
    expect(m.bootstrap.intervals.accuracy.estimate).toBe(final.test.accuracy);
    // the test rows of the run's predictions.csv, row for row
    const runRows = csv(join(run, 'predictions.csv'));
    const evalRows = csv(join(out, 'predictions.csv'));
    expect(evalRows[0]).toEqual(runRows[0]);
    expect(evalRows.slice(1)).toEqual(runRows.slice(1).filter((row) => row[0] === 'test'));
    expect(readFileSync(join(out, 'reliability.svg'), 'utf8')).toMatch(/^<svg [^]*<\/svg>\n?$/);
    if (m.auc !== null) expect(m.figures).toEqual(['roc.svg', 'reliability.svg']);
    for (const f of m.figures) expect(readFileSync(join(out, f), 'utf8')).toMatch(/<svg/);

    // an evaluation there: refused without --force (a usage error: nothing read), moved aside with it
    const again = await cli(['evaluate', '--run', run, '--split-file', join(run, 'split.json'), '--out', out, ...FAST]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`thtl-native: ${out} holds an evaluation (metrics.json); give --force to replace it (the old one is moved to ${out}.replaced-<time>)\nsee thtl-native evaluate --help\n`);
    const forced = await cli(['evaluate', '--run', run, '--split-file', join(run, 'split.json'), '--out', out, '--force', ...FAST]);
    expect(forced.code, forced.stderr).toBe(0);
    const aside = (await import('node:fs')).readdirSync(dir).filter((f) => f.startsWith('eval.replaced-'));
    expect(aside).toHaveLength(1);
  }, 600_000);

  it('predict gives the probabilities of the run\'s predictions.csv; an existing --out is refused without --force', async () => {
    const out = join(dir, 'preds.csv');
    const r = await cli(['predict', '--run', run, '--images', ...testFiles, '--out', out, ...FAST]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csv(out);
    expect(rows[0]).toEqual(['file', 'prob_benign', 'prob_malignant', 'predicted']);
    const want = new Map(csv(join(run, 'predictions.csv')).slice(1).filter((row) => row[0] === 'test').map((row) => [row[1]!, row]));
    expect(rows.length - 1).toBe(want.size);
    for (const row of rows.slice(1)) {
      const w = want.get(row[0]!)!;
      expect(Math.abs(Number(row[1]) - Number(w[4]))).toBeLessThan(1e-6);
      expect(Math.abs(Number(row[2]) - Number(w[5]))).toBeLessThan(1e-6);
      expect(row[3]).toBe(w[6]);
    }
    const again = await cli(['predict', '--run', run, '--images', ...testFiles, '--out', out, ...FAST]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`thtl-native: ${out} exists; give --force to replace it\nsee thtl-native predict --help\n`);
    const forced = await cli(['predict', '--run', run, '--images', ...testFiles, '--out', out, '--force', ...FAST]);
    expect(forced.code, forced.stderr).toBe(0);

    // a folder: every image under it, sorted
    const folder = join(dir, 'unlabelled');
    mkdirSync(folder);
    for (const f of testFiles) cpSync(f, join(folder, basename(f)));
    const fromDir = await cli(['predict', '--run', run, '--images', folder, '--out', join(dir, 'folder.csv'), ...FAST]);
    expect(fromDir.code, fromDir.stderr).toBe(0);
    expect(csv(join(dir, 'folder.csv')).slice(1).map((row) => row[0])).toEqual(testFiles.map((f) => join(folder, basename(f))).sort());
    // --weights FILE (the run's weights file; its config.json beside it names model, classes, input size): the same CSV
    const byWeights = await cli(['predict', '--weights', join(run, 'weights.safetensors'), '--images', ...testFiles, '--out', join(dir, 'weights.csv'), ...FAST]);
    expect(byWeights.code, byWeights.stderr).toBe(0);
    expect(readFileSync(join(dir, 'weights.csv'), 'utf8')).toBe(readFileSync(out, 'utf8'));
  }, 600_000);

  it("--tta flip averages each image's probabilities with its mirror's; evaluate and predict record it", async () => {
    // each test image at the input size as a PNG, and its horizontal mirror
    const folder = join(dir, 'tta');
    mkdirSync(folder);
    const plain: string[] = [];
    const mirrored: string[] = [];
    for (const [i, f] of testFiles.entries()) {
      const s = 32;
      const chw = native().decodeResized(f, s);
      const hwc = (flip: boolean) => Uint8Array.from({ length: s * s * 3 }, (_, j) => chw[(j % 3) * s * s + Math.floor(j / 3 / s) * s + (flip ? s - 1 - (Math.floor(j / 3) % s) : Math.floor(j / 3) % s)]!);
      plain.push(join(folder, `${i}.png`));
      mirrored.push(join(folder, `${i}-mirror.png`));
      native().encodeImage(plain.at(-1)!, hwc(false), s, s);
      native().encodeImage(mirrored.at(-1)!, hwc(true), s, s);
    }
    const both = await cli(['predict', '--run', run, '--images', ...plain, ...mirrored, '--out', join(dir, 'both.csv'), ...FAST]);
    expect(both.code, both.stderr).toBe(0);
    const tta = await cli(['predict', '--run', run, '--images', ...plain, '--tta', 'flip', '--out', join(dir, 'tta.csv'), ...FAST]);
    expect(tta.code, tta.stderr).toBe(0);
    const probs = new Map(csv(join(dir, 'both.csv')).slice(1).map((row) => [row[0]!, [Number(row[1]), Number(row[2])]]));
    const rows = csv(join(dir, 'tta.csv'));
    expect(rows[0]).toEqual(['file', 'prob_benign', 'prob_malignant', 'predicted', 'tta']);
    expect(rows.slice(1).map((row) => row[0])).toEqual(plain);
    let moved = 0;
    for (const [i, row] of rows.slice(1).entries()) {
      const [a, b] = [probs.get(plain[i]!)!, probs.get(mirrored[i]!)!];
      for (const k of [0, 1]) expect(Math.abs(Number(row[k + 1]) - (a[k]! + b[k]!) / 2)).toBeLessThan(1e-5);
      moved = Math.max(moved, Math.abs(Number(row[1]) - a[0]!));
      expect(row[4]).toBe('flip');
    }
    expect(moved).toBeGreaterThan(1e-6);

    // evaluate --tta flip gives predict's probabilities for the same images, and says so
    const out = join(dir, 'eval-tta');
    const e = await cli(['evaluate', '--run', run, '--split-file', join(run, 'split.json'), '--tta', 'flip', '--out', out, ...FAST]);
    expect(e.code, e.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { tta: string }).tta).toBe('flip');
    const p = await cli(['predict', '--run', run, '--images', ...testFiles, '--tta', 'flip', '--out', join(dir, 'tta-test.csv'), ...FAST]);
    expect(p.code, p.stderr).toBe(0);
    const want = new Map(csv(join(dir, 'tta-test.csv')).slice(1).map((row) => [row[0]!, row]));
    const evalRows = csv(join(out, 'predictions.csv'));
    expect(evalRows[0]!.at(-1)).toBe('tta');
    for (const row of evalRows.slice(1)) {
      expect(row.slice(4, 6)).toEqual(want.get(row[1]!)!.slice(1, 3));
      expect(row.at(-1)).toBe('flip');
    }
  }, 600_000);

  it("predict --cam writes each image's LayerCAM map (a PNG of the input size) and the cam column points at it", async () => {
    const out = join(dir, 'cam-preds.csv');
    const images = testFiles.slice(0, 3);
    const r = await cli(['predict', '--run', run, '--images', ...images, '--cam', '--tta', 'flip', '--out', out, ...FAST]);
    expect(r.code, r.stderr).toBe(0);
    const rows = csv(out);
    expect(rows[0]).toEqual(['file', 'prob_benign', 'prob_malignant', 'predicted', 'tta', 'cam']);
    expect(rows.slice(1).map((row) => row[0])).toEqual(images);
    for (const row of rows.slice(1)) {
      expect(row[5]).toBe(`cam/${basename(row[0]!, extname(row[0]!))}.png`);
      const meta = await sharp(join(dir, row[5]!)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 32]);
    }
    // the folder holds maps now: refused without --force
    const again = await cli(['predict', '--run', run, '--images', ...images, '--cam', '--cam-out', join(dir, 'cam'), '--out', join(dir, 'cam2.csv'), ...FAST]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^thtl-native: \S+cam holds files; give --force to write the LayerCAM maps over them\n/);
  }, 600_000);

  it('class names that differ from the model\'s are refused naming both lists; --class-map maps them', async () => {
    const data = join(dir, 'renamed');
    const split = JSON.parse(readFileSync(join(run, 'split.json'), 'utf8')) as { test: { file: string; label: number }[]; classes: string[] };
    for (const [name, label] of [['b', 0], ['m', 1]] as const) {
      mkdirSync(join(data, name), { recursive: true });
      for (const e of split.test.filter((t) => t.label === label)) cpSync(e.file, join(data, name, basename(e.file)));
    }
    const out = join(dir, 'mapped');
    const refused = await cli(['evaluate', '--run', run, '--data', data, '--out', out, ...FAST]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("thtl-native: the data's classes (b, m) are not the model's (benign, malignant); map them with --class-map b=benign,m=malignant\n");
    expect(existsSync(out)).toBe(false);
    const mapped = await cli(['evaluate', '--run', run, '--data', data, '--class-map', 'b=benign,m=malignant', '--out', out, ...FAST]);
    expect(mapped.code, mapped.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Report & { classMap: Record<string, string>; split: string };
    const final = JSON.parse(readFileSync(join(run, 'final.json'), 'utf8')) as { test: Report };
    expect(m.classMap).toEqual({ b: 'benign', m: 'malignant' });
    expect(m.split).toBe('eval');
    // the same images (in another order): the same confusion and accuracy
    expect(m.confusion).toEqual(final.test.confusion);
    expect(m.accuracy).toBeCloseTo(final.test.accuracy, 12);
    const wrong = await cli(['evaluate', '--run', run, '--data', data, '--class-map', 'b=benign,x=malignant', '--out', join(dir, 'x'), ...FAST]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe("thtl-native: --class-map names 'x', not a class of the data (b, m)\n");
  }, 600_000);

  it('usage problems are refused before anything is read', async () => {
    const both = await cli(['evaluate', '--run', '/no/run', '--checkpoint', '/no/w.safetensors', '--data', '/no/data', '--out', join(dir, 'u')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^thtl-native: --run and --checkpoint cannot go together/);
    const weightsToo = await cli(['evaluate', '--weights', '/no/w.safetensors', '--checkpoint', '/no/w.safetensors', '--data', '/no/data', '--out', join(dir, 'u')]);
    expect([weightsToo.code, weightsToo.stderr]).toEqual([2, 'thtl-native: --weights and --checkpoint cannot go together: both name the model file; give one\nsee thtl-native evaluate --help\n']);
    const noData = await cli(['evaluate', '--run', '/no/run', '--out', join(dir, 'u')]);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/^thtl-native: give --data \(a labelled dataset\) or --split-file/);
    const badMap = await cli(['evaluate', '--run', '/no/run', '--data', '/no/data', '--class-map', 'b', '--out', join(dir, 'u')]);
    expect(badMap.code).toBe(2);
    expect(badMap.stderr).toMatch(/^thtl-native: --class-map must be old=new pairs separated by commas/);
    const camOut = await cli(['predict', '--run', '/no/run', '--images', '/no/x.png', '--cam-out', join(dir, 'u'), '--out', join(dir, 'u.csv')]);
    expect(camOut.code).toBe(2);
    expect(camOut.stderr).toMatch(/^thtl-native: --cam-out needs --cam/);
    const tta = await cli(['predict', '--run', '/no/run', '--images', '/no/x.png', '--tta', 'crop', '--out', join(dir, 'u.csv')]);
    expect(tta.code).toBe(2);
    expect(tta.stderr).toMatch(/^thtl-native: --tta must be one of none, flip, got 'crop'\n/);
    expect(existsSync(join(dir, 'u'))).toBe(false);
  });

  it('--calibrate temperature: T fitted on the validation images, kept in calibration.json, applied by evaluate and predict', async () => {
    const data = vesselFolder(10, 48, 21);
    const calibrated = join(dir, 'calibrated');
    const t = await cli(['train', '--model', 'resnet18', '--data', data, '--out', calibrated, '--epochs', '2', '--input-size', '32', '--batch-size', '4', '--calibrate', 'temperature', ...FAST]);
    expect(t.code, t.stderr).toBe(0);
    const c = JSON.parse(readFileSync(join(calibrated, 'calibration.json'), 'utf8')) as RunCalibration;
    expect(c.method).toBe('temperature');
    expect(c.temperature).toBeGreaterThan(0);
    expect(c.val.nllAfter).toBeLessThanOrEqual(c.val.nllBefore + 1e-12);
    // the fit is the minimum of the validation NLL computed from predictions.csv
    const rows = readPredictions(join(calibrated, 'predictions.csv'), ['benign', 'malignant']);
    const val = rows.filter((r) => r.split === 'val');
    const logits = logitsFromProbs(val.map((r) => r.probs));
    const labels = val.map((r) => r.label);
    // (within the search range [0.05, 20]: a nearly uniform model's optimum can lie at its top)
    for (const f of [0.9, 1.1])
      if (c.temperature * f >= 0.05 && c.temperature * f <= 20)
        expect(temperatureNll(logits, labels, c.temperature)).toBeLessThanOrEqual(temperatureNll(logits, labels, c.temperature * f) + 1e-9);
    expect(readFileSync(join(calibrated, 'model-card.md'), 'utf8')).toMatch(/temperature scaling \(calibration\.json, applied by evaluate and predict\): T = \d/);

    // evaluate applies T: the probabilities are softmax(log p / T) of the run's own
    const out = join(dir, 'eval-calibrated');
    const e = await cli(['evaluate', '--run', calibrated, '--split-file', join(calibrated, 'split.json'), '--split', 'test', '--out', out, ...FAST]);
    expect(e.code, e.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { calibration: { ece: number; temperature: number; eceUncalibrated: number } };
    expect(m.calibration.temperature).toBe(c.temperature);
    const test = rows.filter((r) => r.split === 'test');
    const expected = scaleProbs(test.map((r) => r.probs), c.temperature);
    const got = readPredictions(join(out, 'predictions.csv'), ['benign', 'malignant']);
    expect(got.map((r) => r.file)).toEqual(test.map((r) => r.file));
    got.forEach((r, i) => r.probs.forEach((p, k) => expect(Math.abs(p - expected[i]![k]!)).toBeLessThan(1e-6)));
    expect(Math.abs(m.calibration.eceUncalibrated - c.test!.eceBefore)).toBeLessThan(1e-6);

    // predict applies it too
    const p = await cli(['predict', '--run', calibrated, '--images', ...test.map((r) => r.file), '--out', join(dir, 'calibrated.csv'), ...FAST]);
    expect(p.code, p.stderr).toBe(0);
    const pred = csv(join(dir, 'calibrated.csv')).slice(1);
    pred.forEach((row, i) => expect(Math.abs(Number(row[1]) - expected[i]![0]!)).toBeLessThan(1e-6));
  }, 300_000);
});

