// `thtl-native probe` end to end on tiny synthetic domains: the features of a frozen
// resnet18 for a sample of each domain, the scores against the target, the ranking files.
// A second sample of the target itself, offered as a candidate, must rank first on every
// score; bad input is refused naming what is wrong.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ProbeResult } from '../../lib/probe/probe.js';
import { writeSynthDataset } from '../../lib/synth/write.js';
import { tempDir } from '../helpers/images.js';
import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
let data = '';

beforeAll(async () => {
  data = tempDir('probe-data');
  for (const domain of ['target', 'intermediate', 'source'] as const) writeSynthDataset({ domain, n: 48, size: 40, seed: 3, out: join(data, domain) });
  const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu', seed: 5 });
  await s.saveWeights(join(data, 'backbone.safetensors'));
  await s.dispose();
}, 120_000);

describe('thtl-native probe', () => {
  it('ranks a second sample of the target first on every score; writes md, csv, json and svg', async () => {
    const out = tempDir('probe-out');
    const d = (x: string) => join(data, x);
    const r = await runProcess(process.execPath, [
      BIN, 'probe', '--target', d('target'), '--candidates', [d('intermediate'), d('source'), d('target')].join(','),
      '--model', 'resnet18', '--weights', d('backbone.safetensors'), '--per-domain', '24', '--input-size', '32', '--threads', '1', '--adapt-epochs', '0', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'probe.json'), 'utf8')) as ProbeResult;
    expect([res.featureLayer, res.featureDim, res.target.images]).toEqual(['layer4', 512, 24]);
    const self = res.rows.find((row) => row.candidate === d('target'))!;
    expect(self.ranks).toEqual({ frechet: 1, mmd2: 1, cosine: 1, emd: 1, vessel: 1 });
    expect(res.rows.map((row) => row.images)).toEqual([24, 24, 24]);
    for (const row of res.rows) expect(Object.values(row.scores).every(Number.isFinite)).toBe(true);
    expect(readFileSync(join(out, 'probe.csv'), 'utf8').split('\n')[0]).toBe('candidate,images,frechet,frechet_rank,mmd2,mmd2_rank,cosine,cosine_rank,emd,emd_rank,vessel,vessel_rank,emd_r,emd_g,emd_b');
    expect(readFileSync(join(out, 'probe.svg'), 'utf8')).toMatch(/^<svg/);
    const md = readFileSync(join(out, 'probe.md'), 'utf8');
    expect(md).toMatch(/## Vessel morphology per class/);
    expect(md).toMatch(/\| .*target.* \(target\) \| malignant \| \d+ \| 0\.\d+ \|/);
    expect(res.targetMorphology.map((p) => p.name)).toEqual(['benign', 'malignant']);
    for (const row of res.rows) for (const p of row.morphology) expect(p.mean.radial).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/Seconds: features/);
    expect(res.scores).toEqual(['frechet', 'mmd2', 'cosine', 'emd', 'vessel']);
  }, 120_000);

  it('with a short adaptation on each candidate: LogME and 5-NN of the target, and the run folders of the adaptations', async () => {
    const out = tempDir('probe-adapt');
    const r = await runProcess(process.execPath, [
      BIN, 'probe', '--target', join(data, 'target'), '--candidates', [join(data, 'intermediate'), join(data, 'source')].join(','),
      '--model', 'resnet18', '--weights', join(data, 'backbone.safetensors'), '--per-domain', '16', '--input-size', '32', '--threads', '1', '--adapt-epochs', '1', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'probe.json'), 'utf8')) as ProbeResult;
    expect(res.scores).toEqual(['frechet', 'mmd2', 'cosine', 'emd', 'vessel', 'logme', 'knn']);
    for (const row of res.rows) {
      expect(Number.isFinite(row.scores.logme)).toBe(true);
      expect(row.scores.knn).toBeGreaterThanOrEqual(0);
      expect(row.scores.knn).toBeLessThanOrEqual(1);
    }
    expect(res.rows.map((row) => row.ranks.logme).sort()).toEqual([1, 2]);
    expect(Number.isFinite(res.baseline.logme) && res.baseline.knn >= 0).toBe(true);
    for (const i of [1, 2]) expect(existsSync(join(out, 'adapt', `candidate-${i}`, 'run', 'final.json'))).toBe(true);
    expect(r.stderr).toMatch(/adapted on candidate 1 \(fc \+ layer4, 1 epochs/);
  }, 180_000);

  it('refuses a missing backbone and a candidate that does not exist', async () => {
    const base = [BIN, 'probe', '--target', join(data, 'target'), '--model', 'resnet18', '--out', tempDir('probe-bad')];
    const noWeights = await runProcess(process.execPath, [...base, '--candidates', join(data, 'source')]);
    // a usage error (exit 2): the command line lacks what it needs
    expect(noWeights.code).toBe(2);
    expect(noWeights.stderr).toMatch(/^thtl-native: probe needs the backbone's weights: --weights FILE, or --weights-dir DIR.*\nsee thtl-native probe --help\n$/);
    const missing = await runProcess(process.execPath, [...base, '--weights', join(data, 'backbone.safetensors'), '--candidates', join(data, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(data, 'nowhere'));
  }, 60_000);
});
