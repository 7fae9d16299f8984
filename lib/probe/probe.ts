// `thtl-native probe`: before any training, how close is each candidate intermediate
// domain to the target? A seeded sample of each domain is decoded (through the decode
// cache), a frozen backbone gives each image's pooled features (Session.features), and
// each candidate is scored against the target:
// - feature space: Fréchet distance and MMD^2 (lower is closer), cosine of the mean
//   features (higher is closer);
// - low-level statistics: earth mover's distance between pixel intensities, per colour
//   channel, averaged (lower is closer).
// - transferability after a short adaptation (with adaptEpochs > 0): the backbone's head
//   and last group are fine-tuned briefly on the candidate's sample, then the target
//   sample's features from the adapted backbone are scored with LogME and leave-one-out
//   5-NN accuracy (patients kept apart where known); higher is better.
// - vessel morphology (lib/probe/vessels.ts): Frangi vesselness of each sampled image,
//   then per class the vessel density, orientation coherence, radial alignment and
//   tortuosity; the vessel score is the geometric distance of the candidate's classes
//   to the target's (lower is closer).
// Writes probe.json, probe.md, probe.csv and probe.svg (each candidate's rank per score),
// with the time each score took.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { TopLevelSpec } from 'vega-lite';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { csvCell } from '../data/csv.js';
import { loadDataset } from '../data/dataset.js';
import type { DatasetItem } from '../data/types.js';
import type { ProgressSink } from '../util/progress.js';
import { FONT_FAMILY, renderVegaLiteSvg } from '../report/roc.js';
import { escapeMarkdown } from '../report/tables.js';
import { mixSeed, Rng } from '../util/rng.js';
import { setTorchThreads } from '../util/threads.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/runfolder.js';
import { DEFAULT_TRAIN_CONFIG, resolveCacheDir } from '../train/config.js';
import { findModelInfo, resolveInputSize } from '../models/index.js';
import { trainRun } from '../train/runner.js';
import { emd1d, frechetDistance, knnAccuracy, logme, meanCosine, mmd2 } from './scores.js';
import { classProfiles, greenChannel, vesselDistance, vesselMorphology, type MorphologyProfile, type VesselMorphology } from './vessels.js';

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
  /** epochs of the short adaptation on each candidate (head + last group); 0: none */
  adaptEpochs: number;
  out: string;
}

/** One sampled domain: its backbone features and what was sampled. */
interface DomainSample {
  rows: number[][];
  set: ImageSet;
  picked: DatasetItem[];
  classes: string[];
  labels: number[];
  groups: string[];
}

/** What a score is computed from: the target and candidate samples, and computations several scores share. */
export interface ScoreInput {
  o: ProbeOptions;
  target: DomainSample;
  cands: DomainSample[];
  /** per candidate, the earth mover's distance of each colour channel to the target */
  emdPerChannel(): Promise<[number, number, number][]>;
  /** vessel morphology of each domain's images and per class; the target first */
  morphology(): Promise<{ per: VesselMorphology[]; profiles: MorphologyProfile[] }[]>;
  /** LogME and 5-NN accuracy of the target after adapting on each candidate; null when adaptEpochs is 0 */
  adapted(): Promise<{ logme: number; knn: number }[] | null>;
}

/** One score of the probe: how it is computed and shown. */
export interface ProbeScore<K extends string = ScoreKey> {
  /** the CSV column and JSON field */
  key: K;
  name: string;
  better: 'lower' | 'higher';
  /** each candidate's score, or null when this probe does not compute it */
  compute(x: ScoreInput): number[] | null | Promise<number[] | null>;
  /** the score as probe.md shows it */
  format(v: number): string;
}

const fixed3 = (v: number): string => v.toFixed(3);

/** The scores, in table order; adding a score is adding a row (ScoreKey follows). */
const SCORE_ROWS = [
  { key: 'frechet', name: 'Fréchet distance (features)', better: 'lower', compute: (x) => x.cands.map((c) => frechetDistance(c.rows, x.target.rows)), format: fixed3 },
  { key: 'mmd2', name: 'MMD² (features, Gaussian kernel)', better: 'lower', compute: (x) => x.cands.map((c) => mmd2(c.rows, x.target.rows)), format: (v) => v.toExponential(3) },
  { key: 'cosine', name: 'cosine of mean features', better: 'higher', compute: (x) => x.cands.map((c) => meanCosine(c.rows, x.target.rows)), format: (v) => v.toFixed(4) },
  {
    key: 'emd',
    name: "earth mover's distance (pixel intensities, mean of R, G, B)",
    better: 'lower',
    compute: async (x) => (await x.emdPerChannel()).map((e) => (e[0] + e[1] + e[2]) / 3),
    format: fixed3,
  },
  {
    key: 'vessel',
    name: 'vessel geometry distance (coherence, radial alignment, tortuosity per class)',
    better: 'lower',
    compute: async (x) => {
      const [t, ...cands] = await x.morphology();
      return cands.map((m) => vesselDistance(t!.profiles, t!.per, m.profiles));
    },
    format: fixed3,
  },
  { key: 'logme', name: 'LogME of the target after adaptation', better: 'higher', compute: async (x) => (await x.adapted())?.map((a) => a.logme) ?? null, format: fixed3 },
  { key: 'knn', name: '5-NN accuracy on the target after adaptation', better: 'higher', compute: async (x) => (await x.adapted())?.map((a) => a.knn) ?? null, format: fixed3 },
] as const satisfies readonly ProbeScore<string>[];

export type ScoreKey = (typeof SCORE_ROWS)[number]['key'];

export const PROBE_SCORES: readonly ProbeScore[] = SCORE_ROWS;

export interface ProbeRow {
  candidate: string;
  images: number;
  scores: Partial<Record<ScoreKey, number>>;
  /** 1 = closest to the target */
  ranks: Partial<Record<ScoreKey, number>>;
  emdPerChannel: [number, number, number];
  /** vessel morphology per class of the candidate */
  morphology: MorphologyProfile[];
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
  /** the scores computed, in table order */
  scores: ScoreKey[];
  /** LogME and 5-NN accuracy of the target's features from the backbone before any adaptation */
  baseline: { logme: number; knn: number };
  /** vessel morphology per class of the target */
  targetMorphology: MorphologyProfile[];
  rows: ProbeRow[];
  /** seconds: features per domain, then each score over every candidate (adaptation: the fine-tuning included) */
  seconds: { features: Record<string, number>; scores: Partial<Record<ScoreKey, number>> };
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

/** Vessel morphology of every readable image of a set, with its index in the set. */
function imageMorphology(set: ImageSet): { index: number; m: VesselMorphology }[] {
  const bad = new Set(set.failures().map((f) => f.index));
  const out: { index: number; m: VesselMorphology }[] = [];
  for (let i = 0; i < set.count; i++) if (!bad.has(i)) out.push({ index: i, m: vesselMorphology(greenChannel(set.pixels(i), set.size), set.size) });
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
  const size = resolveInputSize(findModelInfo(o.model), o.inputSize);
  setTorchThreads(o.threads);
  const cacheDir = resolveCacheDir({ cacheDir: o.cacheDir });
  const sampled = await sampleDomains(o, size, cacheDir, progress);
  const [target, ...cands] = sampled.domains as [DomainSample, ...DomainSample[]];
  const baseline = { logme: logme(target.rows, target.labels), knn: knnAccuracy(target.rows, target.labels, 5, target.groups) };
  const ledger: Ledger = { borrowed: 0 };
  const input = scoreInput(o, target, cands, () => adaptAndScore(o, size, cacheDir, target, cands, out, progress), ledger);
  const { values, seconds } = await computeScores(input, ledger);
  const used = PROBE_SCORES.filter((s) => values[s.key]);
  const ranks = Object.fromEntries(used.map((s) => [s.key, rank(values[s.key]!, s.better)])) as Partial<Record<ScoreKey, number[]>>;
  const emd = await input.emdPerChannel();
  const morph = await input.morphology();
  const result: ProbeResult = {
    version: 1,
    target: { spec: o.target, images: target.rows.length },
    model: o.model,
    weights: o.weights,
    inputSize: size,
    featureLayer: sampled.layer,
    featureDim: sampled.dim,
    seed: o.seed,
    scores: used.map((s) => s.key),
    baseline,
    targetMorphology: morph[0]!.profiles,
    rows: o.candidates.map((candidate, i) => ({
      candidate,
      images: cands[i]!.rows.length,
      scores: Object.fromEntries(used.map((s) => [s.key, values[s.key]![i]!])),
      ranks: Object.fromEntries(used.map((s) => [s.key, ranks[s.key]![i]!])),
      emdPerChannel: emd[i]!,
      morphology: morph[i + 1]!.profiles,
    })),
    seconds: { features: sampled.seconds, scores: seconds },
    files: ['probe.json', 'probe.md', 'probe.csv', 'probe.svg'].map((f) => join(out, f)),
  };
  await writeProbeFiles(out, result);
  return result;
}

/** A seeded sample of each domain (the target first) and its features from the frozen backbone. */
async function sampleDomains(
  o: ProbeOptions,
  size: number,
  cacheDir: string | undefined,
  progress: ProgressSink,
): Promise<{ domains: DomainSample[]; seconds: Record<string, number>; layer: string; dim: number }> {
  const session = await native().Session.create({ model: o.model, numClasses: 2, weights: o.weights, device: o.device, seed: o.seed });
  const domains: DomainSample[] = [];
  const seconds: Record<string, number> = {};
  let layer = '';
  let dim = 0;
  try {
    for (const [d, spec] of [o.target, ...o.candidates].entries()) {
      const ds = await loadDataset(spec);
      const picked = sample(ds.items, o.perDomain, mixSeed(o.seed, d));
      const set = await native().ImageSet.build(picked.map((i) => i.file), size, { ...(cacheDir ? { cacheDir } : {}) });
      const f = await session.features(set, { batchSize: 32 });
      if (f.n < 2) throw new Error(`${spec}: fewer than 2 images could be read`);
      layer = f.layer;
      dim = f.dim;
      seconds[spec] = f.seconds;
      const used = Array.from(f.indices, (i) => picked[i]!);
      domains.push({ rows: rows(f.features, f.n, f.dim), set, picked, classes: ds.classes, labels: used.map((i) => i.label), groups: used.map((i) => i.group ?? '') });
      progress.line(`${d === 0 ? 'target' : `candidate ${d}`} ${spec}: ${f.n} images, ${f.dim} features from ${f.layer} in ${f.seconds.toFixed(1)}s`);
    }
  } finally {
    await session.dispose();
  }
  return { domains, seconds, layer, dim };
}

/** Seconds of shared computations that a score used after an earlier score did them. */
interface Ledger {
  borrowed: number;
}

/** `fn` done once, on first use; a later use adds the seconds it took to the ledger. */
function once<T>(ledger: Ledger, fn: () => T | Promise<T>): () => Promise<T> {
  let done: { value: T; seconds: number } | undefined;
  return async () => {
    if (done) {
      ledger.borrowed += done.seconds;
      return done.value;
    }
    const t0 = performance.now();
    const value = await fn();
    done = { value, seconds: (performance.now() - t0) / 1000 };
    return value;
  };
}

function scoreInput(
  o: ProbeOptions,
  target: DomainSample,
  cands: DomainSample[],
  adapt: () => Promise<{ logme: number; knn: number }[]>,
  ledger: Ledger,
): ScoreInput {
  return {
    o,
    target,
    cands,
    emdPerChannel: once(ledger, () => {
      const t = intensities(target.set);
      return cands.map((c) => {
        const x = intensities(c.set);
        return [0, 1, 2].map((ch) => emd1d(x[ch]!, t[ch]!)) as [number, number, number];
      });
    }),
    morphology: once(ledger, () =>
      [target, ...cands].map((f) => {
        const per = imageMorphology(f.set);
        return { per: per.map((p) => p.m), profiles: classProfiles(per.map((p) => p.m), per.map((p) => f.picked[p.index]!.label), f.classes) };
      }),
    ),
    adapted: once(ledger, () => (o.adaptEpochs > 0 ? adapt() : null)),
  };
}

/** Each score of every candidate, in PROBE_SCORES order, with the seconds it took (shared computations included). */
async function computeScores(x: ScoreInput, ledger: Ledger): Promise<{ values: Partial<Record<ScoreKey, number[]>>; seconds: Partial<Record<ScoreKey, number>> }> {
  const values: Partial<Record<ScoreKey, number[]>> = {};
  const seconds: Partial<Record<ScoreKey, number>> = {};
  for (const s of PROBE_SCORES) {
    ledger.borrowed = 0;
    const t0 = performance.now();
    const v = await s.compute(x);
    if (!v) continue;
    values[s.key] = v;
    seconds[s.key] = (performance.now() - t0) / 1000 + ledger.borrowed;
  }
  return { values, seconds };
}

async function writeProbeFiles(out: string, r: ProbeResult): Promise<void> {
  writeJsonAtomic(join(out, 'probe.json'), r);
  writeFileAtomic(join(out, 'probe.md'), probeMarkdown(r));
  writeFileAtomic(join(out, 'probe.csv'), probeCsv(r));
  writeFileAtomic(join(out, 'probe.svg'), await probeSvg(r));
}

/**
 * For each candidate: fine-tune the backbone's head and last group on the candidate's
 * sample (80/20 split, adaptEpochs epochs; a run folder in <out>/adapt/), then score the
 * target sample's features from the adapted backbone with LogME and 5-NN accuracy.
 */
async function adaptAndScore(
  o: ProbeOptions,
  size: number,
  cacheDir: string | undefined,
  target: { set: ImageSet; labels: number[]; groups: string[] },
  cands: { picked: DatasetItem[]; classes: string[] }[],
  out: string,
  progress: ProgressSink,
): Promise<{ logme: number; knn: number }[]> {
  const groups = findModelInfo(o.model).groups.map((g) => g.name);
  const results: { logme: number; knn: number }[] = [];
  for (const [i, c] of cands.entries()) {
    const dir = join(out, 'adapt', `candidate-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const manifest = join(dir, 'sample.csv');
    // a class needs an image in each of train and val: classes the sample has once are left out of the adaptation
    const count = new Map<number, number>();
    for (const it of c.picked) count.set(it.label, (count.get(it.label) ?? 0) + 1);
    const kept = c.picked.filter((it) => count.get(it.label)! >= 2);
    const dropped = [...count].filter(([, n]) => n < 2).map(([label]) => c.classes[label]!);
    if (dropped.length > 0) progress.line(`candidate ${i + 1}: classes with one sampled image left out of the adaptation: ${dropped.join(', ')}`);
    if (new Set(kept.map((it) => it.label)).size < 2)
      throw new Error(`candidate ${i + 1}: its sample of ${c.picked.length} images has fewer than two classes with two images or more; raise --per-domain to adapt on it`);
    writeFileAtomic(manifest, `path,label,group\n${kept.map((it) => [it.file, c.classes[it.label]!, it.group ?? ''].map(csvCell).join(',')).join('\n')}\n`);
    const run = await trainRun(
      {
        ...DEFAULT_TRAIN_CONFIG,
        model: o.model,
        data: manifest,
        split: [0.8, 0.2],
        epochs: o.adaptEpochs,
        patience: o.adaptEpochs,
        inputSize: size,
        weights: o.weights,
        trainableGroups: groups.slice(0, 2),
        seed: o.seed,
        threads: o.threads,
        device: o.device,
        ...(cacheDir ? { cacheDir } : {}),
        out: join(dir, 'run'),
        resume: true,
        keepCheckpoint: false,
      },
      { status: () => {}, line: () => {} },
    );
    const s = await native().Session.create({ model: o.model, numClasses: run.classes.length, weights: join(run.dir, 'weights.safetensors'), device: o.device, seed: o.seed });
    try {
      const f = await s.features(target.set, { batchSize: 32 });
      const feats = rows(f.features, f.n, f.dim);
      results.push({ logme: logme(feats, target.labels), knn: knnAccuracy(feats, target.labels, 5, target.groups) });
    } finally {
      await s.dispose();
    }
    progress.line(`adapted on candidate ${i + 1} (${groups.slice(0, 2).join(' + ')}, ${run.epochsRun} epochs, val accuracy ${run.valAccuracy.toFixed(3)}): LogME ${results[i]!.logme.toFixed(3)}, 5-NN ${results[i]!.knn.toFixed(3)} on the target`);
  }
  return results;
}

const scoresOf = (r: ProbeResult) => PROBE_SCORES.filter((s) => r.scores.includes(s.key));

export function probeMarkdown(r: ProbeResult): string {
  const shown = scoresOf(r);
  return [
    `# Intermediate-domain probe: ${escapeMarkdown(r.target.spec)}`,
    '',
    `${r.model} (${escapeMarkdown(r.weights)}), ${r.inputSize}px, ${r.featureDim} features from ${r.featureLayer}; ` +
      `${r.target.images} target images, seed ${r.seed}. Rank 1 = closest to the target.`,
    '',
    `| Candidate | Images | ${shown.map((s) => `${escapeMarkdown(s.name)} (${s.better} is closer) | rank`).join(' | ')} |`,
    `| :--- | ---: | ${shown.map(() => '---: | ---:').join(' | ')} |`,
    ...r.rows.map((row) => `| ${escapeMarkdown(row.candidate)} | ${row.images} | ${shown.map((s) => `${s.format(row.scores[s.key]!)} | ${row.ranks[s.key]}`).join(' | ')} |`),
    '',
    `Before any adaptation, the target's own features give LogME ${r.baseline.logme.toFixed(3)} and 5-NN accuracy ${r.baseline.knn.toFixed(3)}.`,
    '',
    '## Vessel morphology per class',
    '',
    'Means over the sampled images of each class: Frangi vesselness density, orientation coherence (1 parallel, 0 tangled), ' +
      'radial alignment about the image centre (1 radial, 0.5 random, 0 circular) and tortuosity (radians per image width).',
    '',
    '| Domain | Class | Images | Density | Coherence | Radial | Tortuosity |',
    '| :--- | :--- | ---: | ---: | ---: | ---: | ---: |',
    ...[{ candidate: `${r.target.spec} (target)`, morphology: r.targetMorphology }, ...r.rows].flatMap((row) =>
      row.morphology.map(
        (p) =>
          `| ${escapeMarkdown(row.candidate)} | ${escapeMarkdown(p.name)} | ${p.images} | ${p.mean.density.toFixed(4)} | ${p.mean.coherence.toFixed(3)} | ${p.mean.radial.toFixed(3)} | ${p.mean.tortuosity.toFixed(2)} |`,
      ),
    ),
    '',
    `Seconds: features ${Object.values(r.seconds.features).map((s) => s.toFixed(1)).join(' + ')}; ` + shown.map((s) => `${s.key} ${r.seconds.scores[s.key]!.toFixed(2)}`).join(', ') +
      (r.scores.includes('logme') ? ' (logme and knn: the adaptations included)' : ''),
    '',
  ].join('\n');
}

export function probeCsv(r: ProbeResult): string {
  const shown = scoresOf(r);
  const head = ['candidate', 'images', ...shown.flatMap((s) => [s.key, `${s.key}_rank`]), 'emd_r', 'emd_g', 'emd_b'];
  const lines = r.rows.map((row) => [row.candidate, row.images, ...shown.flatMap((s) => [row.scores[s.key]!, row.ranks[s.key]!]), ...row.emdPerChannel].map(csvCell).join(','));
  return `${[head.join(','), ...lines].join('\n')}\n`;
}

async function probeSvg(r: ProbeResult): Promise<string> {
  const values = r.rows.flatMap((row) => scoresOf(r).map((s) => ({ candidate: row.candidate, score: s.key, rank: row.ranks[s.key] })));
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
