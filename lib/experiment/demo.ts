// `thtl-native demo`: the whole study on synthetic domains, on CPU in minutes.
// A synthetic texture/shape source stands in for ImageNet: resnet18 is pretrained on
// it, then protocols 1-4, SWFT and LoRA-SWFT run on synthetic fundus (intermediate)
// and vessel (target) images, one run each (or one per fold with folds), and the report
// (tables + ROC) is written.
// Deterministic for a seed on a fixed thread count.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { runCam } from '../cam/cam.js';
import { DEFAULT_RECIPE } from '../experiment/study-config.js';
import { runStudy, writeStudyReport, type StudyResult } from '../experiment/study.js';
import { readStudyFile } from '../experiment/study-folder.js';
import type { ProtocolId } from '../experiment/types.js';
import { writeSynthDataset, type SynthDomain } from '../synth/write.js';
import { DEFAULT_TRAIN_CONFIG, type PrecisionRequest } from '../train/config.js';
import { trainRun, type RunOptions, type RunResult } from '../train/runner.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';

export interface DemoOptions {
  out: string;
  /** images per domain */
  source: number;
  intermediate: number;
  target: number;
  imageSize: number;
  inputSize: number;
  epochs: number;
  patience: number;
  seed: number;
  threads: number;
  device: string;
  /** every run's precision; 'auto' is resolved by each run (lib/train/precision.ts) */
  precision: PrecisionRequest;
  protocols: ProtocolId[];
  /** k-fold cross-validation of the target (every protocol once per fold); absent: one 7:2:1 split */
  folds?: number;
  /** units run at once in child processes (the local executor); 1: one after another in this process */
  workers?: number;
  /** GPU ids: one worker each */
  gpus?: string[];
}

/** The one model the demo trains (small enough for a CPU). */
export const DEMO_MODEL = 'resnet18';

export const DEFAULT_DEMO: DemoOptions = {
  out: 'runs/demo',
  source: 480,
  intermediate: 400,
  target: 300,
  imageSize: 80,
  inputSize: 64,
  epochs: 8,
  patience: 3,
  seed: 123,
  threads: 0,
  device: 'cpu',
  precision: 'fp32',
  protocols: ['1', '2', '3', '4', 'swft', 'lora-swft'],
};

export interface DemoResult extends StudyResult {
  tablesMarkdown: string;
  /** report/comparisons.md: the paired comparisons */
  comparisonsMarkdown: string;
  /** report/index.html */
  html: string;
  /** folder of the LayerCAM figures (null when protocols 1 and 4 were not both run) */
  cam: string | null;
}

/** The three synthetic domains, written under <out>/data. */
function writeDemoData(out: string, opts: DemoOptions, progress: ProgressSink, t0: number): { source: string; intermediate: string; target: string } {
  const data = (domain: SynthDomain, n: number): string => {
    const dir = join(out, 'data', domain);
    const r = writeSynthDataset({ domain, n, size: opts.imageSize, seed: opts.seed, out: dir });
    progress.line(`synthetic ${domain}: ${r.files} images (${r.classes.map((c) => c.name).join(', ')}) in ${dir}`);
    return dir;
  };
  const source = data('source', opts.source);
  const intermediate = data('intermediate', opts.intermediate);
  const target = data('target', opts.target);
  progress.line(`synthetic data ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { source, intermediate, target };
}

/** The stand-in for ImageNet: resnet18 trained from scratch on the source domain. */
async function trainSourceModel(out: string, source: string, opts: DemoOptions, progress: ProgressSink, options: RunOptions): Promise<RunResult> {
  const sourceRun = await trainRun(
    {
      ...DEFAULT_TRAIN_CONFIG,
      model: DEMO_MODEL,
      data: source,
      split: [0.8, 0.2],
      epochs: opts.epochs,
      patience: opts.patience,
      inputSize: opts.inputSize,
      seed: opts.seed,
      threads: opts.threads,
      device: opts.device,
      precision: opts.precision,
      out: join(out, 'source-model'),
      resume: true,
      keepCheckpoint: false,
    },
    progress,
    options,
  );
  progress.line(`source model (stands in for ImageNet): val accuracy ${sourceRun.valAccuracy.toFixed(4)} after ${sourceRun.epochsRun} epochs`);
  return sourceRun;
}

/** LayerCAM of one benign and one malignant test image: protocol 1 (**) above the ++ model; null when either is missing. */
async function demoCam(studyDir: string, opts: DemoOptions, progress: ProgressSink): Promise<string | null> {
  const runDir = (unit: string) => join(studyDir, 'runs', DEMO_MODEL, opts.folds !== undefined ? 'fold-1' : 'run-1', unit);
  if (!existsSync(join(runDir('expt1'), 'final.json')) || !existsSync(join(runDir('plusplus'), 'final.json'))) return null;
  const cam = join(studyDir, 'cam');
  const images = await runCam(
    { run: runDir('expt1'), compare: runDir('plusplus'), split: 'test', limit: 2, cls: 'pred', fusion: 'none', out: cam, device: opts.device, threads: opts.threads },
    progress,
  );
  progress.line(`LayerCAM figures (** above ++): ${images.map((i) => join(cam, i.figure)).join(', ')}`);
  return cam;
}

export async function runDemo(opts: DemoOptions, progress: ProgressSink = consoleProgress(), options: RunOptions = {}): Promise<DemoResult> {
  const out = resolve(opts.out);
  const t0 = Date.now();
  const { source, intermediate, target } = writeDemoData(out, opts, progress, t0);
  const recipe = { ...DEFAULT_RECIPE, epochs: opts.epochs, patience: opts.patience, inputSize: opts.inputSize, device: opts.device, threads: opts.threads, precision: opts.precision };
  const sourceRun = await trainSourceModel(out, source, opts, progress, options);

  const study = await runStudy(
    {
      name: `THTL demo: synthetic source -> synthetic fundus -> synthetic vessels (${DEMO_MODEL})`,
      experiments: [{ protocols: opts.protocols, models: [DEMO_MODEL] }],
      target,
      intermediate,
      initialWeights: { [DEMO_MODEL]: join(sourceRun.dir, 'weights.safetensors') },
      runs: opts.folds ?? 1,
      ...(opts.folds !== undefined ? { folds: opts.folds } : {}),
      seed: opts.seed,
      targetSplit: [0.7, 0.2, 0.1],
      intermediateSplit: [0.7, 0.3],
      lora: { rank: 8, alpha: 16 },
      recipe,
      out: join(out, 'study'),
    },
    progress,
    // the report is written once, below, when the LayerCAM figures exist
    { ...options, report: false, ...(opts.workers !== undefined ? { workers: opts.workers } : {}), ...(opts.gpus ? { gpus: opts.gpus } : {}) },
  );
  const cam = await demoCam(study.dir, opts, progress);
  // the whole report in one page, now that the LayerCAM figures exist
  const studyFile = readStudyFile(study.dir);
  const reportFiles = await writeStudyReport(study.dir, studyFile, study.records, { html: true });
  progress.line(`report: ${reportFiles.length} file(s) in ${join(study.dir, 'report')}`);
  const html = join(study.dir, 'report', 'index.html');
  progress.line(`HTML report: ${html}`);
  const md = join(study.dir, 'report', 'tables.md');
  const comparisons = join(study.dir, 'report', 'comparisons.md');
  return {
    ...study,
    reportFiles,
    seconds: (Date.now() - t0) / 1000,
    tablesMarkdown: existsSync(md) ? readFileSync(md, 'utf8') : '',
    comparisonsMarkdown: existsSync(comparisons) ? readFileSync(comparisons, 'utf8') : '',
    html,
    cam,
  };
}
