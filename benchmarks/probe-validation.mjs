// Validation of `thtl-native probe` on domains where the truth can be measured.
//
// 1. data: a synthetic source (the stand-in for ImageNet), the synthetic target
//    (benign vs malignant vessels), and the candidate intermediate domains: the bridge
//    family at twist 0, 0.25, 0.5, 0.75 and 1 (radial -> twisted vessels), the synthetic
//    fundus domain and the source's own textures.
// 2. train: resnet18 pretrained on the source; protocol 3 on the target (the baseline,
//    once), then for each candidate a study with protocol 4 and SWFT, 5 runs each. The
//    gain of a candidate is its mean test accuracy minus protocol 3's, for protocol 4
//    (the ++ run) and for SWFT's best step (chosen per run by validation accuracy).
// 3. probe: `probe` on the same backbone, target and candidates.
// 4. compare: Kendall's tau-b and NDCG between each score's ranking and each gain's.
//    Writes <out>/validation.json and <out>/validation.md.
//
//   npm run build:ts && node benchmarks/probe-validation.mjs --out /tmp/pv [--phase all|train|probe|compare]
//       [--workers 2] [--threads 1] [--runs 5]
// A phase that already ran is reused (finished run folders are never retrained).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const lib = (p) => import(join(root, 'dist', 'lib', p));
const { writeSynthDataset } = await lib('synth/write.js');
const { trainRun } = await lib('train/runner.js');
const { DEFAULT_TRAIN_CONFIG } = await lib('train/config.js');
const { DEFAULT_RECIPE } = await lib('experiment/study-config.js');
const { runStudy } = await lib('experiment/study.js');
const { consoleProgress } = await lib('util/progress.js');

const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: 'runs/probe-validation' },
    phase: { type: 'string', default: 'all' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    'per-domain': { type: 'string', default: '100' },
    'adapt-epochs': { type: 'string', default: '3' },
  },
});
const out = resolve(a.out);
const SIZE = 80;
const INPUT = 64;
const SEED = 123;
const MODEL = 'resnet18';
const threads = Number(a.threads);
const progress = consoleProgress();
const phase = (p) => a.phase === 'all' || a.phase === p;

const CANDIDATES = [
  ...[0, 0.25, 0.5, 0.75, 1].map((twist) => ({ name: `bridge twist ${twist}`, dir: `bridge-${twist}`, domain: 'bridge', twist, n: 400 })),
  { name: 'synthetic fundus', dir: 'fundus', domain: 'intermediate', n: 400 },
  { name: 'source textures', dir: 'textures', domain: 'source', n: 480 },
];

mkdirSync(out, { recursive: true });
const data = (dir, domain, n, twist) => {
  const path = join(out, 'data', dir);
  writeSynthDataset({ domain, n, size: SIZE, seed: SEED, out: path, ...(twist !== undefined ? { twist } : {}) });
  return path;
};
const source = data('source', 'source', 480);
const target = data('target', 'target', 600);
for (const c of CANDIDATES) c.path = c.domain === 'source' ? source : data(c.dir, c.domain, c.n, c.twist);
progress.line(`data ready in ${join(out, 'data')}`);

const sourceRun = await trainRun(
  {
    ...DEFAULT_TRAIN_CONFIG, model: MODEL, data: source, split: [0.8, 0.2], epochs: 8, patience: 3, inputSize: INPUT,
    seed: SEED, threads: 0, device: 'cpu', out: join(out, 'source-model'), resume: true, keepCheckpoint: false,
  },
  progress,
);
const backbone = join(sourceRun.dir, 'weights.safetensors');

const study = (name, protocols, intermediate, dir) =>
  runStudy(
    {
      name, experiments: [{ protocols, models: [MODEL] }], target, ...(intermediate ? { intermediate } : {}),
      initialWeights: { [MODEL]: backbone }, runs: Number(a.runs), seed: SEED, targetSplit: [0.6, 0.2, 0.2], intermediateSplit: [0.7, 0.3],
      lora: { rank: 8, alpha: 16 }, recipe: { ...DEFAULT_RECIPE, epochs: 8, patience: 3, inputSize: INPUT, device: 'cpu', threads }, out: join(out, 'studies', dir),
    },
    progress,
    { workers: Number(a.workers) },
  );

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const resultsFile = join(out, 'gains.json');
if (phase('train')) {
  const t0 = Date.now();
  const base = await study('protocol 3 baseline', ['3'], null, 'baseline');
  const byRun = (records, stage) => records.filter((r) => r.stage === stage).sort((x, y) => x.run - y.run);
  const p3 = byRun(base.records, 'expt3');
  const baseline = { accuracy: p3.map((r) => r.test.accuracy), auc: p3.map((r) => r.test.auc) };
  const gains = [];
  for (const c of CANDIDATES) {
    const s = await study(`two-step via ${c.name}`, ['4', 'swft'], c.path, c.dir);
    const pp = byRun(s.records, 'plusplus');
    const swft = [...new Set(s.records.map((r) => r.run))].sort().map((run) => {
      const steps = s.records.filter((r) => r.run === run && (r.stage === 'swft' || r.stage === 'plusplus'));
      // best step by validation accuracy; the earlier step wins a tie
      return steps.sort((x, y) => y.valAccuracy - x.valAccuracy || (x.step ?? 1) - (y.step ?? 1))[0];
    });
    const plusAcc = s.records.filter((r) => r.stage === 'plus').map((r) => r.valAccuracy);
    gains.push({
      candidate: c.name,
      spec: c.path,
      plusValAccuracy: plusAcc,
      protocol4: { accuracy: pp.map((r) => r.test.accuracy), auc: pp.map((r) => r.test.auc) },
      swftBest: { accuracy: swft.map((r) => r.test.accuracy), auc: swft.map((r) => r.test.auc), steps: swft.map((r) => r.step ?? 1) },
      gain4: mean(pp.map((r, i) => r.test.accuracy - baseline.accuracy[i])),
      gainSwft: mean(swft.map((r, i) => r.test.accuracy - baseline.accuracy[i])),
      gain4Auc: mean(pp.map((r, i) => r.test.auc - baseline.auc[i])),
      gainSwftAuc: mean(swft.map((r, i) => r.test.auc - baseline.auc[i])),
    });
    progress.line(`${c.name}: gain over protocol 3 ${gains.at(-1).gain4.toFixed(3)} (protocol 4), ${gains.at(-1).gainSwft.toFixed(3)} (SWFT best step)`);
  }
  writeFileSync(resultsFile, `${JSON.stringify({ baseline, gains, seconds: (Date.now() - t0) / 1000 }, null, 2)}\n`);
}

const probeDir = join(out, 'probe');
if (phase('probe')) {
  const { runProbe } = await lib('probe/probe.js');
  await runProbe(
    {
      target, candidates: CANDIDATES.map((c) => c.path), model: MODEL, weights: backbone, perDomain: Number(a['per-domain']), inputSize: INPUT,
      seed: SEED, threads: 0, device: 'cpu', adaptEpochs: Number(a['adapt-epochs']), out: probeDir,
    },
    progress,
  );
}

if (phase('compare')) {
  if (!existsSync(resultsFile)) throw new Error(`${resultsFile} is missing: run --phase train first`);
  const { gains, baseline, seconds: trainSeconds } = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const { kendallTau, ndcg, gainsAsRelevance } = await lib('probe/rank-agreement.js');
  const { PROBE_SCORES } = await lib('probe/probe.js');
  const probe = JSON.parse(readFileSync(join(probeDir, 'probe.json'), 'utf8'));
  // gain of a candidate over protocol 3 for a set of run indices (runs paired by index)
  const MEASURES = [
    { key: 'protocol4', label: 'protocol 4', kind: 'protocol4', metric: 'accuracy' },
    { key: 'swft', label: 'SWFT best step', kind: 'swftBest', metric: 'accuracy' },
    { key: 'protocol4Auc', label: 'protocol 4, AUC', kind: 'protocol4', metric: 'auc' },
  ];
  const runs = baseline.accuracy.length;
  const gainOf = (g, m, idx) => mean(idx.map((i) => g[m.kind][m.metric][i] - baseline[m.metric][i]));
  const all = [...Array(runs).keys()];
  // every resample of the run indices with replacement (runs^runs of them): how much the
  // measured ranking, and so tau, moves with the runs' noise
  const resamples = [];
  for (let code = 0; code < runs ** runs; code++) resamples.push(all.map((k) => Math.floor(code / runs ** k) % runs));
  const quantile = (xs, q) => {
    const v = xs.filter(Number.isFinite).sort((x, y) => x - y);
    const h = (v.length - 1) * q;
    return v[Math.floor(h)] + (v[Math.ceil(h)] - v[Math.floor(h)]) * (h - Math.floor(h));
  };
  const rows = probe.scores.map((key) => {
    const better = PROBE_SCORES.find((s) => s.key === key).better;
    // oriented so that larger means "predicted to bridge better"
    const predicted = probe.rows.map((r) => (better === 'lower' ? -r.scores[key] : r.scores[key]));
    const agree = Object.fromEntries(
      MEASURES.map((m) => {
        const g = gains.map((c) => gainOf(c, m, all));
        const taus = resamples.map((idx) => kendallTau(predicted, gains.map((c) => gainOf(c, m, idx))));
        return [m.key, { tau: kendallTau(predicted, g), tau05: quantile(taus, 0.05), tau95: quantile(taus, 0.95), ndcg: ndcg(predicted, gainsAsRelevance(g)) }];
      }),
    );
    return { score: key, ...agree, seconds: probe.seconds.scores[key] };
  });
  // what a ranking by chance scores: NDCG averaged over every order of the candidates
  const orders = (xs) => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])));
  const perms = orders([...gains.keys()]);
  const chance = Object.fromEntries(
    MEASURES.map((m) => {
      const rel = gainsAsRelevance(gains.map((c) => gainOf(c, m, all)));
      return [m.key, mean(perms.map((p) => ndcg(p.map((k) => -k), p.map((_, i) => rel[p[i]]))))];
    }),
  );
  const f = (v) => (v >= 0 ? '+' : '') + v.toFixed(3);
  const g2 = (v) => (v >= 0 ? '+' : '') + v.toFixed(2);
  const md = [
    `Protocol 3 (baseline) test accuracy per run: ${baseline.accuracy.map((x) => x.toFixed(3)).join(', ')}; AUC ${baseline.auc.map((x) => x.toFixed(3)).join(', ')}`,
    '',
    '| candidate | protocol 4 test acc. (runs) | gain | SWFT best step (runs) | gain | protocol 4 AUC gain |',
    '|---|---|---:|---|---:|---:|',
    ...gains.map(
      (g) =>
        `| ${g.candidate} | ${g.protocol4.accuracy.map((x) => x.toFixed(3)).join(', ')} | ${f(gainOf(g, MEASURES[0], all))} | ` +
        `${g.swftBest.accuracy.map((x, i) => `${x.toFixed(3)} (${g.swftBest.steps[i]})`).join(', ')} | ${f(gainOf(g, MEASURES[1], all))} | ${f(gainOf(g, MEASURES[2], all))} |`,
    ),
    '',
    `Kendall tau with [5%, 95%] over all ${resamples.length} resamples of the runs; NDCG with the gains rescaled to [0, 1] as relevance.`,
    '',
    '| score | tau, protocol 4 | NDCG | tau, SWFT best step | NDCG | tau, protocol 4 AUC | NDCG | seconds |',
    '|---|---|---:|---|---:|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.score} | ${MEASURES.map((m) => `${g2(r[m.key].tau)} [${g2(r[m.key].tau05)}, ${g2(r[m.key].tau95)}] | ${r[m.key].ndcg.toFixed(3)}`).join(' | ')} | ${r.seconds.toFixed(1)} |`,
    ),
    `| chance (every order, mean) | ${MEASURES.map((m) => `0 | ${chance[m.key].toFixed(3)}`).join(' | ')} | |`,
    '',
    `Training the ${gains.length} candidates' studies and the baseline took ${(trainSeconds / 60).toFixed(1)} min in this call; ` +
      `the probe's features took ${Object.values(probe.seconds.features).reduce((s, x) => s + x, 0).toFixed(1)} s.`,
    '',
  ].join('\n');
  writeFileSync(join(out, 'validation.json'), `${JSON.stringify({ rows, chance, gains, baseline }, null, 2)}\n`);
  writeFileSync(join(out, 'validation.md'), md);
  process.stdout.write(md);
}
