// `thtl-native probe`: before any training, how close is each candidate intermediate
// domain to the target? A seeded sample of each domain is decoded (through the decode
// cache), a frozen backbone gives each image's pooled features (Session.features), and
// each candidate is scored against the target:
// - feature space: Fréchet distance and MMD^2 (lower is closer), cosine of the mean
//   features (higher is closer);
// - low-level statistics: earth mover's distance between pixel intensities, per colour
//   channel, averaged (lower is closer).
// Writes probe.json, probe.md, probe.csv and probe.svg (each candidate's rank per score),
// with the time each score took. This is the first part of the probe: scores after a short
// adaptation (LogME, k-NN) and vessel morphology are not computed yet.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { TopLevelSpec } from 'vega-lite';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { loadDataset } from '../data/dataset.js';
import type { ProgressSink } from '../progress.js';
import { FONT_FAMILY, renderVegaLiteSvg } from '../report/roc.js';
import { csvCell, escapeMarkdown } from '../report/tables.js';
import { mixSeed, Rng } from '../rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../runfolder.js';
import { resolveCacheDir } from '../train/config.js';
import { findModelInfo, resolveInputSize } from '../train/runner.js';
import { emd1d, frechetDistance, meanCosine, mmd2 } from './scores.js';

export interface ProbeOptions {
  target: string;
  candidates: string[];
  model: string;
  /** the backbone's weights (ImageNet's, or any the model loads) */
  weights: string;
  /** images sampled from each domain */
  perDomain: number;
  inputSize?: number;
  seed: number;
  threads: number;
  device: string;
  cacheDir?: string;
  out: string;
}

export type ScoreKey = 'frechet' | 'mmd2' | 'cosine' | 'emd';

export const PROBE_SCORES: readonly { key: ScoreKey; name: string; better: 'lower' | 'higher' }[] = [
  { key: 'frechet', name: 'Fréchet distance (features)', better: 'lower' },
  { key: 'mmd2', name: 'MMD² (features, Gaussian kernel)', better: 'lower' },
  { key: 'cosine', name: 'cosine of mean features', better: 'higher' },
  { key: 'emd', name: "earth mover's distance (pixel intensities, mean of R, G, B)", better: 'lower' },
];

export interface ProbeRow {
  candidate: string;
  images: number;
  scores: Record<ScoreKey, number>;
  /** 1 = closest to the target */
  ranks: Record<ScoreKey, number>;
  emdPerChannel: [number, number, number];
}

export interface ProbeResult {
  version: 1;
  target: { spec: string; images: number };
  model: string;
  weights: string;
  inputSize: number;
  featureLayer: string;
  featureDim: number;
  seed: number;
  rows: ProbeRow[];
  /** seconds: features per domain, then each score over every candidate */
  seconds: { features: Record<string, number>; scores: Record<ScoreKey, number> };
  files: string[];
}

/** A seeded sample of `k` items (in their dataset order). */
function sample<T>(items: readonly T[], k: number, seed: number): T[] {
  if (items.length <= k) return [...items];
  const idx = new Rng(seed).shuffle(items.map((_, i) => i)).slice(0, k).sort((a, b) => a - b);
  return idx.map((i) => items[i]!);
}

/** Every `step`-th value of each colour channel of every image, as three samples. */
function intensities(set: ImageSet, step = 11): [number[], number[], number[]] {
  const out: [number[], number[], number[]] = [[], [], []];
  const plane = set.size * set.size;
  const bad = new Set(set.failures().map((f) => f.index));
  for (let i = 0; i < set.count; i++) {
    if (bad.has(i)) continue;
    const px = set.pixels(i);
    for (let c = 0; c < 3; c++) for (let p = (i * 7) % step; p < plane; p += step) out[c]!.push(px[c * plane + p]!);
  }
  return out;
}

function rows(features: Float32Array, n: number, dim: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(features.subarray(i * dim, (i + 1) * dim)));
}

function rank(values: number[], better: 'lower' | 'higher'): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((x, y) => (better === 'lower' ? x.v - y.v : y.v - x.v) || x.i - y.i);
  const r = new Array<number>(values.length);
  order.forEach((o, k) => (r[o.i] = k + 1));
  return r;
}

export async function runProbe(o: ProbeOptions, progress: ProgressSink): Promise<ProbeResult> {
  if (o.candidates.length === 0) throw new Error('probe needs at least one candidate (--candidates)');
  if (!Number.isInteger(o.perDomain) || o.perDomain < 2) throw new Error(`--per-domain must be an integer of at least 2, got ${o.perDomain}`);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const info = findModelInfo(o.model);
  const size = resolveInputSize(info, o.inputSize);
  native().setThreads(o.threads);
  const cacheDir = resolveCacheDir({ cacheDir: o.cacheDir });
  const session = await native().Session.create({ model: o.model, numClasses: 2, weights: o.weights, device: o.device, seed: o.seed });
  const domains = [o.target, ...o.candidates];
  const feats: { rows: number[][]; set: ImageSet }[] = [];
  const featureSeconds: Record<string, number> = {};
  let layer = '';
  let dim = 0;
  try {
    for (const [d, spec] of domains.entries()) {
      const ds = await loadDataset(spec);
      const picked = sample(ds.items, o.perDomain, mixSeed(o.seed, d));
      const set = await native().ImageSet.build(picked.map((i) => i.file), size, { ...(cacheDir ? { cacheDir } : {}) });
      const f = await session.features(set, { batchSize: 32 });
      if (f.n < 2) throw new Error(`${spec}: fewer than 2 images could be read`);
      layer = f.layer;
      dim = f.dim;
      featureSeconds[spec] = f.seconds;
      feats.push({ rows: rows(f.features, f.n, f.dim), set });
      progress.line(`${d === 0 ? 'target' : `candidate ${d}`} ${spec}: ${f.n} images, ${f.dim} features from ${f.layer} in ${f.seconds.toFixed(1)}s`);
    }
  } finally {
    await session.dispose();
  }
  const target = feats[0]!;
  const cands = feats.slice(1);
  const timed = <T>(fn: () => T): [T, number] => {
    const t0 = performance.now();
    const v = fn();
    return [v, (performance.now() - t0) / 1000];
  };
  const [frechet, tFrechet] = timed(() => cands.map((c) => frechetDistance(c.rows, target.rows)));
  const [mmd, tMmd] = timed(() => cands.map((c) => mmd2(c.rows, target.rows)));
  const [cosine, tCosine] = timed(() => cands.map((c) => meanCosine(c.rows, target.rows)));
  const [emd, tEmd] = timed(() => {
    const t = intensities(target.set);
    return cands.map((c) => {
      const x = intensities(c.set);
      return [0, 1, 2].map((ch) => emd1d(x[ch]!, t[ch]!)) as [number, number, number];
    });
  });
  const values: Record<ScoreKey, number[]> = { frechet, mmd2: mmd, cosine, emd: emd.map((e) => (e[0] + e[1] + e[2]) / 3) };
  const ranks = Object.fromEntries(PROBE_SCORES.map((s) => [s.key, rank(values[s.key], s.better)])) as Record<ScoreKey, number[]>;
  const result: ProbeResult = {
    version: 1,
    target: { spec: o.target, images: target.rows.length },
    model: o.model,
    weights: o.weights,
    inputSize: size,
    featureLayer: layer,
    featureDim: dim,
    seed: o.seed,
    rows: o.candidates.map((candidate, i) => ({
      candidate,
      images: cands[i]!.rows.length,
      scores: Object.fromEntries(PROBE_SCORES.map((s) => [s.key, values[s.key][i]!])) as Record<ScoreKey, number>,
      ranks: Object.fromEntries(PROBE_SCORES.map((s) => [s.key, ranks[s.key][i]!])) as Record<ScoreKey, number>,
      emdPerChannel: emd[i]!,
    })),
    seconds: { features: featureSeconds, scores: { frechet: tFrechet, mmd2: tMmd, cosine: tCosine, emd: tEmd } },
    files: ['probe.json', 'probe.md', 'probe.csv', 'probe.svg'].map((f) => join(out, f)),
  };
  writeJsonAtomic(join(out, 'probe.json'), result);
  writeFileAtomic(join(out, 'probe.md'), probeMarkdown(result));
  writeFileAtomic(join(out, 'probe.csv'), probeCsv(result));
  writeFileAtomic(join(out, 'probe.svg'), await probeSvg(result));
  return result;
}

export function probeMarkdown(r: ProbeResult): string {
  const fmt = (k: ScoreKey, v: number) => (k === 'cosine' ? v.toFixed(4) : k === 'mmd2' ? v.toExponential(3) : v.toFixed(3));
  return [
    `# Intermediate-domain probe: ${escapeMarkdown(r.target.spec)}`,
    '',
    `${r.model} (${escapeMarkdown(r.weights)}), ${r.inputSize}px, ${r.featureDim} features from ${r.featureLayer}; ` +
      `${r.target.images} target images, seed ${r.seed}. Rank 1 = closest to the target.`,
    '',
    `| Candidate | Images | ${PROBE_SCORES.map((s) => `${escapeMarkdown(s.name)} (${s.better} is closer) | rank`).join(' | ')} |`,
    `| :--- | ---: | ${PROBE_SCORES.map(() => '---: | ---:').join(' | ')} |`,
    ...r.rows.map((row) => `| ${escapeMarkdown(row.candidate)} | ${row.images} | ${PROBE_SCORES.map((s) => `${fmt(s.key, row.scores[s.key])} | ${row.ranks[s.key]}`).join(' | ')} |`),
    '',
    `Seconds: features ${Object.values(r.seconds.features).map((s) => s.toFixed(1)).join(' + ')}; ` + PROBE_SCORES.map((s) => `${s.key} ${r.seconds.scores[s.key].toFixed(2)}`).join(', '),
    '',
  ].join('\n');
}

export function probeCsv(r: ProbeResult): string {
  const head = ['candidate', 'images', ...PROBE_SCORES.flatMap((s) => [s.key, `${s.key}_rank`]), 'emd_r', 'emd_g', 'emd_b'];
  const lines = r.rows.map((row) => [row.candidate, row.images, ...PROBE_SCORES.flatMap((s) => [row.scores[s.key], row.ranks[s.key]]), ...row.emdPerChannel].map(csvCell).join(','));
  return `${[head.join(','), ...lines].join('\n')}\n`;
}

async function probeSvg(r: ProbeResult): Promise<string> {
  const values = r.rows.flatMap((row) => PROBE_SCORES.map((s) => ({ candidate: row.candidate, score: s.key, rank: row.ranks[s.key] })));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Intermediate-domain probe: rank of each candidate per score', subtitle: `target ${r.target.spec}; 1 = closest` },
    data: { values },
    background: 'white',
    config: { font: FONT_FAMILY },
    width: 420,
    height: { step: 18 },
    mark: 'bar',
    encoding: {
      y: { field: 'candidate', type: 'nominal', title: null },
      yOffset: { field: 'score', type: 'nominal' },
      x: { field: 'rank', type: 'quantitative', title: 'rank (1 = closest)', axis: { tickMinStep: 1, format: 'd' } },
      color: { field: 'score', type: 'nominal', title: 'score' },
    },
  } as TopLevelSpec;
  return renderVegaLiteSvg(spec);
}
