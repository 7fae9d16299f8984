// The statistics of a study report, from each finished run's predictions.csv (test rows):
// - run-intervals: bootstrap 95% intervals of each run's accuracy, macro F1 and AUC;
// - comparisons: the paper's claims as paired comparisons on the same test images (`**`
//   vs `++`, `*` vs `++`, each SWFT and LoRA step vs step 1, LoRA vs SWFT at each step),
//   per run (McNemar's exact test for accuracy, DeLong's test for AUC, a paired bootstrap
//   interval of the difference) and for the mean over runs (paired bootstrap of the
//   difference of the means, as the tables report them), Holm-corrected across the table.
// Each in Markdown, CSV and JSON. Bootstraps resample patients when the test images have
// them, images otherwise; they are seeded, so a report rebuilds to the same bytes.
import { csvCell } from '../data/csv.js';
import { PROTOCOL_ROWS, stageRow, type Side } from '../experiment/protocols.js';
import type { RunRecord, Stage } from '../experiment/types.js';
import { argmax } from '../stats/metrics.js';
import { alignImages, bootstrapRun, clustersOf, DEFAULT_BOOTSTRAP, metricsOf, pairedBootstrap, type BootstrapOptions, type Interval, type ScoredImage } from '../stats/bootstrap.js';
import { delongTest, holm, mcnemarExact } from '../stats/tests.js';
import { configLabel, escapeMarkdown, stageSuffix } from './tables.js';
import { TestPredictions } from './test-predictions.js';

/** A configuration of a model (a stage, and the step of SWFT / LoRA) as the comparisons name it. */
function sideLabel(s: Side): string {
  const row = stageRow(s.stage);
  if (row?.stepped) return s.step === 1 ? 'step 1' : `${row.expt} step ${s.step}`;
  return stageSuffix(s.stage);
}

export interface ComparisonRow {
  comparison: string;
  model: string;
  /** the run (repetition) compared, or 'mean' over the runs both sides have */
  run: number | 'mean';
  images: number;
  clusters: number;
  by: 'patient' | 'image';
  accuracy: MetricComparison;
  auc: MetricComparison | null;
}

export interface MetricComparison {
  first: number;
  second: number;
  /** first - second, with the paired bootstrap interval */
  difference: Interval;
  /** McNemar (accuracy) or DeLong (AUC) for a run; the paired bootstrap for the mean */
  test: 'mcnemar' | 'delong' | 'bootstrap';
  p: number;
  /** Holm-adjusted across the table's rows of the same kind (runs, or means) and metric */
  pHolm: number;
}

export interface RunInterval {
  stage: Stage;
  model: string;
  step: number | null;
  run: number;
  label: string;
  images: number;
  by: 'patient' | 'image';
  clusters: number;
  accuracy: Interval;
  macroF1: Interval;
  auc: Interval | null;
}

export interface StudyStatistics {
  bootstrap: BootstrapOptions;
  intervals: RunInterval[];
  comparisons: ComparisonRow[];
  /** runs left out, and why (no predictions.csv: made before predictions were kept) */
  skipped: string[];
}

/** The pairs the paper argues from (each protocol row's `compare`), for the stages and steps a model has. */
function pairsOf(have: (s: Side) => boolean, steps: readonly number[]): [Side, Side][] {
  return PROTOCOL_ROWS.flatMap((p) => p.compare?.(steps) ?? []).filter(([a, b]) => have(a) && have(b));
}

/** Computes the statistics of a study folder's finished runs. */
export function buildStatistics(
  studyDir: string,
  records: readonly RunRecord[],
  modelOrder: readonly string[],
  o: BootstrapOptions = DEFAULT_BOOTSTRAP,
  predictions: TestPredictions = new TestPredictions(studyDir),
): StudyStatistics {
  const skipped: string[] = [];
  const asked = new Set<string>();
  const testImages = (r: RunRecord): ScoredImage[] | null => {
    const images = predictions.get(r);
    if (!asked.has(r.dir)) {
      asked.add(r.dir);
      if (!images) skipped.push(`${r.dir}: ${predictions.error(r.dir)}`);
    }
    return images;
  };
  const targetRuns = records.filter((r) => r.stage !== 'plus' && r.test);
  const intervals: RunInterval[] = [];
  const seen = new Set<string>(); // SWFT and LoRA step 1 are the ++ run: listed once
  for (const r of targetRuns) {
    if (seen.has(r.dir)) continue;
    seen.add(r.dir);
    const images = testImages(r);
    if (!images || images.length === 0) continue;
    const b = bootstrapRun(images, r.classes.length, o);
    intervals.push({
      stage: r.stage, model: r.model, step: r.step ?? null, run: r.run, label: configLabel(r),
      images: images.length, by: b.by, clusters: b.clusters,
      accuracy: b.intervals.accuracy!, macroF1: b.intervals.macroF1!, auc: b.intervals.auc,
    });
  }
  const models = [...new Set(targetRuns.map((r) => r.model))].sort((a, b) => rank(modelOrder, a) - rank(modelOrder, b) || a.localeCompare(b));
  const rows: ComparisonRow[] = [];
  for (const model of models) {
    const of = (s: Side) => {
      // SWFT / LoRA step 1 is the ++ run, whether or not the study lists step 1
      const step1 = s.step === 1 ? stageRow(s.stage)?.stepped?.step1 : undefined;
      const runs = targetRuns.filter((r) => r.model === model && (r.stage === s.stage || r.stage === step1) && (s.step === undefined || r.step === s.step || r.stage === step1));
      return runs.filter((r, i) => runs.findIndex((x) => x.run === r.run) === i);
    };
    const steps = [...new Set(targetRuns.filter((r) => r.model === model && r.step !== undefined).map((r) => r.step!))].sort((a, b) => a - b);
    for (const [first, second] of pairsOf((s) => of(s).length > 0, steps)) {
      const comparison = `${sideLabel(first)} vs ${sideLabel(second)}`;
      const pairs: { run: number; a: ScoredImage[]; b: ScoredImage[]; classes: number }[] = [];
      for (const ra of of(second)) {
        const rb = of(first).find((r) => r.run === ra.run);
        const a = rb ? testImages(ra) : null;
        const b = rb ? testImages(rb) : null;
        if (!a || !b || a.length === 0) continue;
        pairs.push({ run: ra.run, a, b: alignImages(a, b, `${model} ${comparison}, run ${ra.run}`), classes: ra.classes.length });
      }
      pairs.sort((x, y) => x.run - y.run);
      for (const p of pairs) rows.push(compareRun(model, comparison, p, o));
      if (pairs.length > 1) rows.push(compareMean(model, comparison, pairs, o));
    }
  }
  holmAcross(rows);
  return { bootstrap: o, intervals, comparisons: rows, skipped };
}

function rank(order: readonly string[], m: string): number {
  const i = order.indexOf(m);
  return i < 0 ? order.length : i;
}

function compareRun(model: string, comparison: string, p: { run: number; a: ScoredImage[]; b: ScoredImage[]; classes: number }, o: BootstrapOptions): ComparisonRow {
  const boot = pairedBootstrap([{ a: p.a, b: p.b }], p.classes, o);
  const correct = (xs: ScoredImage[]) => xs.map((x) => argmax(x.probs) === x.label);
  const mc = mcnemarExact(correct(p.b), correct(p.a));
  const acc = (xs: ScoredImage[]) => correct(xs).filter(Boolean).length / xs.length;
  const binary = p.classes === 2;
  const dl = binary ? delongTest(p.a.map((x) => x.label === 1), p.a.map((x) => x.probs[1]!), p.b.map((x) => x.probs[1]!)) : null;
  const { clusters, by } = clusterInfo(p.a);
  return {
    comparison, model, run: p.run, images: p.a.length, clusters, by,
    accuracy: { first: acc(p.b), second: acc(p.a), difference: strip(boot.accuracy!), test: 'mcnemar', p: mc.p, pHolm: mc.p },
    auc: dl && boot.auc ? { first: dl.aucB, second: dl.aucA, difference: strip(boot.auc), test: 'delong', p: dl.p, pHolm: dl.p } : null,
  };
}

function compareMean(model: string, comparison: string, pairs: { a: ScoredImage[]; b: ScoredImage[]; classes: number }[], o: BootstrapOptions): ComparisonRow {
  const boot = pairedBootstrap(pairs, pairs[0]!.classes, o);
  const mean = (side: 'a' | 'b', k: 'accuracy' | 'auc') => {
    const vs = pairs.map((p) => metricsOf(p[side], p.classes)[k]);
    let sum = 0;
    for (const v of vs) {
      if (v === null) return null;
      sum += v;
    }
    return sum / vs.length;
  };
  const { clusters, by } = clusterInfo(pairs[0]!.a);
  const side = (k: 'accuracy' | 'auc'): MetricComparison | null => {
    const d = boot[k];
    const first = mean('b', k);
    const second = mean('a', k);
    return d && first !== null && second !== null ? { first, second, difference: strip(d), test: 'bootstrap', p: d.p, pHolm: d.p } : null;
  };
  return { comparison, model, run: 'mean', images: pairs[0]!.a.length, clusters, by, accuracy: side('accuracy')!, auc: side('auc') };
}

function clusterInfo(images: ScoredImage[]): { clusters: number; by: 'patient' | 'image' } {
  const c = clustersOf(images);
  return { clusters: c.clusters.length, by: c.by };
}

function strip(d: Interval): Interval {
  return { estimate: d.estimate, lo: d.lo, hi: d.hi };
}

/** Holm across the table: per metric, the per-run rows as one family and the mean rows as another. */
function holmAcross(rows: ComparisonRow[]): void {
  for (const mean of [false, true])
    for (const k of ['accuracy', 'auc'] as const) {
      const family = rows.filter((r) => (r.run === 'mean') === mean && r[k] !== null);
      const adjusted = holm(family.map((r) => r[k]!.p));
      family.forEach((r, i) => (r[k]!.pHolm = adjusted[i]!));
    }
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
const pv = (p: number) => (p < 0.001 ? '<0.001' : p.toFixed(3));

export function statisticsMarkdown(s: StudyStatistics, title: string): { comparisons: string; intervals: string } {
  const who = s.comparisons[0]?.by ?? s.intervals[0]?.by ?? 'image';
  const resampled = `${s.bootstrap.replicates} bootstrap replicates (seed ${s.bootstrap.seed}), resampling ${who === 'patient' ? 'patients' : 'images'}`;
  const cmp = [
    `# ${title}: paired comparisons on the same test images`,
    '',
    `Difference = first - second, with a ${Math.round(s.bootstrap.level * 100)}% paired bootstrap interval (${resampled}). ` +
      'A run row compares the two configurations trained with the same seed: McNemar\'s exact test for accuracy, DeLong\'s test for AUC. ' +
      'A mean row compares the means over the runs (as the tables report them) with the paired bootstrap. Holm: adjusted across the table, per metric, runs and means separately.',
    '',
    '| Model | Comparison | Run | Acc. first | Acc. second | Acc. diff [95% CI] | p (Holm) | AUC first | AUC second | AUC diff [95% CI] | p (Holm) |',
    '| :--- | :--- | ---: | ---: | ---: | :--- | ---: | ---: | ---: | :--- | ---: |',
    ...s.comparisons.map((r) => {
      const m = (c: MetricComparison | null) =>
        c ? [f3(c.first), f3(c.second), `${signed(c.difference.estimate)} [${signed(c.difference.lo)}, ${signed(c.difference.hi)}]`, `${pv(c.p)} (${pv(c.pHolm)})`] : ['', '', '', ''];
      return `| ${[escapeMarkdown(r.model), escapeMarkdown(r.comparison), String(r.run), ...m(r.accuracy), ...m(r.auc)].join(' | ')} |`;
    }),
    ...(s.comparisons.length === 0 ? ['', 'No comparison: the study has no pair of configurations the paper compares, with predictions of both.'] : []),
    ...(s.skipped.length > 0 ? ['', `Left out: ${s.skipped.join('; ')}`] : []),
    '',
  ].join('\n');
  const iv = (x: Interval | null) => (x ? `${f3(x.estimate)} [${f3(x.lo)}, ${f3(x.hi)}]` : '');
  const intervals = [
    `# ${title}: each run's test metrics with bootstrap intervals`,
    '',
    `${Math.round(s.bootstrap.level * 100)}% percentile intervals, ${resampled}.`,
    '',
    '| Run | Stage | Run # | Images | Accuracy | Macro F1 | AUC |',
    '| :--- | :--- | ---: | ---: | :--- | :--- | :--- |',
    ...s.intervals.map((r) => `| ${escapeMarkdown(r.label)} | ${r.stage}${r.step ? ` ${r.step}` : ''} | ${r.run} | ${r.images} | ${iv(r.accuracy)} | ${iv(r.macroF1)} | ${iv(r.auc)} |`),
    '',
  ].join('\n');
  return { comparisons: cmp, intervals };
}

function csv(header: string[], rows: (string | number | null)[][]): string {
  return `${[header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}

export function statisticsCsv(s: StudyStatistics): { comparisons: string; intervals: string } {
  const mc = (c: MetricComparison | null) => (c ? [c.first, c.second, c.difference.estimate, c.difference.lo, c.difference.hi, c.test, c.p, c.pHolm] : [null, null, null, null, null, null, null, null]);
  const metricHead = (k: string) => ['first', 'second', 'diff', 'diff_ci_lo', 'diff_ci_hi', 'test', 'p', 'p_holm'].map((h) => `${k}_${h}`);
  const comparisons = csv(
    ['model', 'comparison', 'run', 'images', 'clusters', 'resampled', ...metricHead('accuracy'), ...metricHead('auc')],
    s.comparisons.map((r) => [r.model, r.comparison, String(r.run), r.images, r.clusters, r.by, ...mc(r.accuracy), ...mc(r.auc)]),
  );
  const iv = (x: Interval | null) => (x ? [x.estimate, x.lo, x.hi] : [null, null, null]);
  const intervals = csv(
    ['label', 'stage', 'model', 'step', 'run', 'images', 'clusters', 'resampled', 'accuracy', 'accuracy_ci_lo', 'accuracy_ci_hi', 'macro_f1', 'macro_f1_ci_lo', 'macro_f1_ci_hi', 'auc', 'auc_ci_lo', 'auc_ci_hi'],
    s.intervals.map((r) => [r.label, r.stage, r.model, r.step, r.run, r.images, r.clusters, r.by, ...iv(r.accuracy), ...iv(r.macroF1), ...iv(r.auc)]),
  );
  return { comparisons, intervals };
}
