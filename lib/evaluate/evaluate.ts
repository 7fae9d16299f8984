// `thtl-native evaluate` / evaluateModel: a trained model (a run folder, or a weights /
// checkpoint file) on a labelled dataset or one part of a split file. The images are
// decoded as training decodes them (train/runner.ts decodeSplit, the same cache), the
// model runs as its run's own test did (Session.evaluate, the run's precision and batch
// size), and the out folder gets predictions.csv (train/predictions.ts), metrics.json
// (classification report, calibration, kappa, one-vs-rest AUC, bootstrap intervals) and
// roc.svg / reliability.svg. See docs/EVALUATION.md.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { loadDataset } from '../data/dataset.js';
import { readSplitFile, type SplitEntry } from '../split/index.js';
import { bootstrapRun, DEFAULT_BOOTSTRAP, type BootstrapOptions, type RunBootstrap } from '../stats/bootstrap.js';
import { brierScore, calibrationError, multiclassBrier, reliabilityBins, type ReliabilityBin } from '../stats/calibration.js';
import { classificationReport, gradedMetrics, oneVsRestAuc, rocCurve, type ClassificationReport } from '../stats/metrics.js';
import { decodeSplit, resolveDevice } from '../train/runner.js';
import { predictionRows, predictionsCsv, type Prediction } from '../train/predictions.js';
import { scaleProbs } from '../train/temperature.js';
import { modelSourceProblem, openTrainedModel, resolveTrainedModel, type ModelSource } from '../train/trained-model.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';
import { moveAside, RunFolder, writeFileAtomic } from '../util/runfolder.js';
import { setTorchThreads } from '../util/threads.js';
import { matchClasses } from './classes.js';
import { ttaProblem, ttaProbs, type Tta } from './tta.js';

/** The decode and run settings evaluate and predict share (the training flags of the same names). */
export interface RunSettings {
  /** default: the run's batch size (config.json), else 32 */
  batchSize?: number;
  /** LibTorch and decode threads; 0 or absent leaves the count as it is */
  threads?: number;
  /** 'auto' (default), 'cpu', 'cuda', 'cuda:1' */
  device?: string;
  cacheDir?: string;
  noCache?: boolean;
  /** test-time augmentation: 'none' (default) or 'flip' (each image's probabilities averaged with its horizontal mirror's) */
  tta?: Tta;
}

export interface EvaluateOptions extends ModelSource, RunSettings {
  /** a labelled dataset: an ImageFolder, a manifest CSV or a JSON spec (docs/DATASETS.md) */
  data?: string;
  /** or a split file (split.json) and its part `split` (default 'test') */
  splitFile?: string;
  split?: 'train' | 'val' | 'test';
  /** the evaluation folder: predictions.csv, metrics.json, roc.svg, reliability.svg */
  out: string;
  /** data class -> model class, where the names differ */
  classMap?: Record<string, string>;
  /** replace an evaluation already in `out` (moved aside to <out>.replaced-<time>) */
  force?: boolean;
  /** bootstrap replicates, seed and level (default 2000, 20240101, 0.95) */
  bootstrap?: BootstrapOptions;
}

export interface EvaluationMetrics extends ClassificationReport {
  model: string;
  /** the weights or checkpoint file evaluated */
  weights: string;
  /** the data: the dataset's source, or the split file and part */
  data: string;
  split: string;
  classes: string[];
  /** the model's class each data class was taken as (identity without --class-map) */
  classMap: Record<string, string>;
  /** the test-time augmentation the probabilities come from */
  tta: Tta;
  /** mean cross-entropy of the probabilities before any temperature (with tta 'flip', of the averaged ones) */
  loss: number;
  calibration: {
    /** expected calibration error, top-label confidence, 15 equal-width bins */
    ece: number;
    /** maximum calibration error over the non-empty bins */
    mce: number;
    /** binary: the Brier score of class 1's probability (sklearn); more classes: null */
    brier: number | null;
    /** more classes: the sum-form multiclass Brier score; binary: null */
    multiclassBrier: number | null;
    /** reliabilityBins: 15 bins and the [1, 1] slot; empty bins have accuracy and confidence null */
    bins: { lo: number; hi: number; count: number; accuracy: number | null; confidence: number | null }[];
    /** the run's temperature (calibration.json), applied to every probability here; absent for an uncalibrated run */
    temperature?: number;
    /** the ECE of the probabilities before the temperature (with `temperature`) */
    eceUncalibrated?: number;
  };
  /** the data's labels are grades in class order (its dataset spec or split file says so; DR levels) */
  ordinal: boolean;
  /** quadratic weighted kappa (more than two classes; null for two) */
  kappa: number | null;
  /** one-vs-rest AUC per class name (more than two classes; null for two), null where undefined */
  ovrAuc: Record<string, number | null> | null;
  bootstrap: RunBootstrap;
  /** the figures written (roc.svg is left out when no ROC curve is defined) */
  figures: string[];
}

/** An evaluation's out folder holds metrics.json. */
export function evaluationIn(dir: string): boolean {
  return existsSync(join(resolve(dir), 'metrics.json'));
}

/**
 * The one-line refusal of options that cannot run as given, or null: checked before any
 * file is read or written (the CLI makes it a usage error).
 */
export function evaluateProblem(o: Partial<EvaluateOptions>): string | null {
  const source = modelSourceProblem(o);
  if (source) return source;
  if (o.data !== undefined && o.splitFile !== undefined)
    return '--data and --split-file cannot go together: the split file names its images; give one or the other';
  if (o.data === undefined && o.splitFile === undefined) return 'give --data (a labelled dataset) or --split-file (a split.json, its --split part)';
  if (o.data !== undefined && o.split !== undefined) return '--data and --split cannot go together: --split picks a part of --split-file';
  if (o.cacheDir !== undefined && o.noCache) return '--no-cache and --cache-dir cannot go together: --no-cache decodes into memory';
  const tta = ttaProblem(o.tta);
  if (tta) return tta;
  if (!o.out) return 'give --out DIR';
  if (evaluationIn(o.out) && !o.force)
    return `${resolve(o.out)} holds an evaluation (metrics.json); give --force to replace it (the old one is moved to ${resolve(o.out)}.replaced-<time>)`;
  return null;
}

const nullIfNaN = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** What metrics.json holds besides the report: calibration, kappa, one-vs-rest AUC, bootstrap. */
export function evaluationMetrics(rows: readonly Prediction[], classes: string[], bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP) {
  const labels = rows.map((r) => r.label);
  const probs = rows.map((r) => r.probs);
  const report = classificationReport(labels, probs.map((p) => [...p]), classes);
  const k = classes.length;
  const bins: ReliabilityBin[] = reliabilityBins(probs, labels, 15);
  const calibration = {
    ece: calibrationError(probs, labels, { bins: 15, norm: 'l1' }),
    mce: calibrationError(probs, labels, { bins: 15, norm: 'max' }),
    brier: k === 2 ? brierScore(probs, labels) : null,
    multiclassBrier: k === 2 ? null : multiclassBrier(probs, labels),
    bins: bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, accuracy: nullIfNaN(b.accuracy), confidence: nullIfNaN(b.confidence) })),
  };
  const graded = k > 2 ? gradedMetrics(probs, labels, k) : null;
  const kappa = graded ? nullIfNaN(graded.kappa) : null;
  const ovrAuc = graded ? Object.fromEntries(graded.ovrAuc.map((a, c) => [classes[c]!, nullIfNaN(a)])) : null;
  const boot = bootstrapRun(
    rows.map((r) => ({ file: r.file, group: r.group, label: r.label, probs: r.probs })),
    k,
    bootstrap,
  );
  return { report, calibration, kappa, ovrAuc, bootstrap: boot, bins };
}

/** roc.svg: binary, the ROC of class 1; more classes, one one-vs-rest curve per class present. Null when no curve is defined. */
async function rocSvg(rows: readonly Prediction[], classes: string[], report: ClassificationReport, title: string): Promise<string | null> {
  const { renderRocSvg } = await import('../report/roc.js'); // vega loads only when a figure is drawn
  const curve = (label: string, fpr: number[], tpr: number[], auc: number) => ({ label, model: title, step: null, run: 0, seed: 0, dir: '', accuracy: report.accuracy, meanAccuracy: report.accuracy, groupSize: 1, auc, fpr, tpr });
  const curves = [];
  if (classes.length === 2) {
    if (report.roc && report.auc !== null) curves.push(curve(`${classes[1]} vs ${classes[0]} (AUC ${report.auc.toFixed(3)})`, report.roc.fpr, report.roc.tpr, report.auc));
  } else {
    const ovr = oneVsRestAuc(rows.map((r) => r.probs), rows.map((r) => r.label));
    for (const [c, name] of classes.entries()) {
      const pos = rows.map((r) => r.label === c);
      const roc = rocCurve(pos, rows.map((r) => r.probs[c]!));
      const auc = ovr[c]!;
      if (roc && Number.isFinite(auc)) curves.push(curve(`${name} vs rest (AUC ${auc.toFixed(3)})`, roc.fpr, roc.tpr, auc));
    }
  }
  if (curves.length === 0) return null;
  return renderRocSvg({ name: 'eval', stage: 'expt1' as never, model: null, title: `ROC: ${title}`, subtitle: [`${rows.length} images`], curves });
}

/** The labelled images to evaluate, with their classes: a dataset, or a part of a split file. */
async function evaluationData(o: EvaluateOptions): Promise<{ classes: string[]; entries: SplitEntry[]; source: string; split: string; ordinal: boolean }> {
  if (o.splitFile) {
    const name = o.split ?? 'test';
    const file = readSplitFile(resolve(o.splitFile));
    const entries = file[name];
    if (entries.length === 0) throw new Error(`split file ${resolve(o.splitFile)} has no ${name} images`);
    return { classes: file.classes, entries, source: `${resolve(o.splitFile)} (${name})`, split: name, ordinal: file.ordinal === true };
  }
  const ds = await loadDataset(o.data!);
  if (ds.items.length === 0) throw new Error(`${ds.source} has no images`);
  return { classes: ds.classes, entries: ds.items.map((i) => ({ file: i.file, label: i.label, ...(i.group !== undefined ? { group: i.group } : {}) })), source: ds.source, split: 'eval', ordinal: ds.ordinal };
}

/**
 * Evaluates a trained model on labelled data and writes the evaluation folder `out`;
 * resolves with metrics.json's content. Nothing is written before the model, the data and
 * their classes are checked and every image is decoded.
 */
export async function evaluateModel(o: EvaluateOptions, progress: ProgressSink = consoleProgress()): Promise<EvaluationMetrics> {
  const problem = evaluateProblem(o);
  if (problem) throw new Error(problem);
  const device = resolveDevice(o.device);
  const spec = resolveTrainedModel(o);
  const data = await evaluationData(o);
  const toModel = matchClasses(data.classes, spec.classes, o.classMap);
  const entries = data.entries.map((e) => ({ ...e, label: toModel[e.label]! }));
  if (o.threads) setTorchThreads(o.threads);
  const batchSize = o.batchSize ?? spec.config?.batchSize ?? 32;
  const model = await openTrainedModel(spec, device, true);
  try {
    const set = await decodeSplit(data.split, entries, spec.inputSize, { threads: o.threads ?? 0, skipBadImages: false, cacheDir: o.cacheDir, noCache: o.noCache }, progress, undefined);
    const failed = set.failures();
    if (failed.length > 0) throw new Error(`${failed[0]!.file}: ${failed[0]!.reason}`);
    const r = await model.session.evaluate(set, Int32Array.from(entries.map((e) => e.label)), { batchSize });
    const tta = o.tta ?? 'none';
    const { probs: raw, loss } = await ttaProbs(tta, model.session, spec.model, set, r, batchSize);
    // a run calibrated with --calibrate temperature: its temperature applies to every probability
    const probs = spec.temperature === null ? raw : scaleProbs(raw, spec.temperature);
    const rows = predictionRows(data.split as Prediction['split'], entries, r, spec.classes, probs);
    // the metrics from the evaluation's own numbers (not the CSV's rounded ones), as the run's final.json
    const exact = rows.map((row, i) => ({ ...row, probs: probs[i]! }));
    const m = evaluationMetrics(exact, spec.classes, o.bootstrap);
    const title = `${spec.label} on ${data.split === 'eval' ? data.source : `${data.split} of ${data.source}`}`;
    const roc = await rocSvg(exact, spec.classes, m.report, spec.label);
    const { renderReliabilitySvg } = await import('../report/reliability.js');
    const reliability = await renderReliabilitySvg({ bins: m.bins, title: `Reliability: ${spec.label}`, subtitle: [`ECE ${m.calibration.ece.toFixed(4)}, MCE ${m.calibration.mce.toFixed(4)}, ${rows.length} images, 15 bins`] });
    const metrics: EvaluationMetrics = {
      model: spec.model,
      weights: spec.file,
      data: data.source,
      split: data.split,
      classes: spec.classes,
      classMap: Object.fromEntries(data.classes.map((c, i) => [c, spec.classes[toModel[i]!]!])),
      tta,
      ...m.report,
      loss,
      calibration: spec.temperature === null ? m.calibration : { ...m.calibration, temperature: spec.temperature, eceUncalibrated: calibrationError(raw, exact.map((e) => e.label), { bins: 15, norm: 'l1' }) },
      ordinal: data.ordinal,
      kappa: m.kappa,
      ovrAuc: m.ovrAuc,
      bootstrap: m.bootstrap,
      figures: [...(roc ? ['roc.svg'] : []), 'reliability.svg'],
    };
    // only now the folder: an evaluation there is moved aside (force; refused before otherwise)
    const dir = resolve(o.out);
    if (evaluationIn(dir)) {
      if (!o.force) throw new Error(`${dir} holds an evaluation (metrics.json); give --force to replace it`);
      progress.line(`moved the evaluation that was in ${dir} to ${moveAside(dir)}`);
    }
    const folder = new RunFolder(dir);
    writeFileAtomic(folder.path('predictions.csv'), predictionsCsv(spec.classes, rows, tta === 'none' ? {} : { tta }));
    if (roc) writeFileAtomic(folder.path('roc.svg'), roc);
    writeFileAtomic(folder.path('reliability.svg'), reliability);
    folder.writeJson('metrics.json', metrics);
    progress.line(
      `${title}${tta === 'none' ? '' : ` (TTA ${tta})`}: ${rows.length} images, accuracy ${metrics.accuracy.toFixed(4)}` +
        (metrics.auc !== null ? `, AUC ${metrics.auc.toFixed(4)}` : '') +
        `, ECE ${metrics.calibration.ece.toFixed(4)}; written to ${dir}`,
    );
    return metrics;
  } finally {
    await model.session.dispose();
  }
}
