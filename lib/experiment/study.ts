// A study: protocols x models x runs, planned into training units, run one
// after another with resume, and reported. The `+` model of a (model, run) is trained
// once and reused by `++`, SWFT and LoRA; SWFT step 1 and LoRA step 1 are the `++`
// recipe (head only, no adapters), so they share its run folder.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { native } from '../../binding/index.js';
import { consoleProgress, formatDuration, type ProgressSink } from '../progress.js';
import { mixSeed } from '../rng.js';
import { writeJsonAtomic } from '../runfolder.js';
import { readSplitFile, writeSplitFile } from '../data/split-file.js';
import { DEFAULT_TRAIN_CONFIG, type Precision, type TrainConfig } from '../train/config.js';
import type { Monitor } from '../train/early-stopping.js';
import { buildSplit, findModelInfo, trainRun, type RunOptions, type RunResult } from '../train/runner.js';
import type { PlanEntry, ProtocolId, RunRecord, Stage } from './types.js';

export type { PlanEntry } from './types.js';
import { findImagenetWeights } from './weights.js';

export const PROTOCOLS: Readonly<Record<ProtocolId, string>> = {
  '1': 'ImageNet weights, every parameter trained on the target (**)',
  '2': 'random initialisation, every parameter trained on the target (^)',
  '3': 'ImageNet weights, 2-class head replaced, only the head trained on the target (*)',
  '4': 'ImageNet weights, every parameter trained on the intermediate domain (+), then only a new head on the target (++)',
  swft: 'Step-Wise Fine-Tuning of the + model: step k trains the first k groups (head first) on the target',
  'lora-swft': 'the SWFT steps with LoRA adapters on the groups of step k instead of unfrozen weights; the head trains fully',
};

export function parseProtocols(list: string): ProtocolId[] {
  const out: ProtocolId[] = [];
  for (const p of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(p in PROTOCOLS)) throw new Error(`unknown protocol '${p}' (known: ${Object.keys(PROTOCOLS).join(', ')})`);
    if (!out.includes(p as ProtocolId)) out.push(p as ProtocolId);
  }
  if (out.length === 0) throw new Error('no protocol given');
  return out;
}

/** The paper's training recipe; every field can be overridden by a config file or flags. */
export interface Recipe {
  epochs: number;
  batchSize: number;
  patience: number;
  minDelta: number;
  monitor: Monitor;
  stepSize: number;
  gamma: number;
  frozenBn: 'train' | 'eval';
  /** mixed precision of the forward passes: fp32 (none), bf16, fp16 (CUDA) */
  precision: Precision;
  /** channels_last memory format for weights and batches */
  channelsLast: boolean;
  /** one learning rate for all models, or per model; default: the registry's (the paper's) */
  lr?: number | Record<string, number>;
  /** square input size; default: the model's */
  inputSize?: number;
  device: string;
  threads: number;
  cacheDir?: string;
  noCache?: boolean;
  skipBadImages: boolean;
}

export const DEFAULT_RECIPE: Recipe = {
  epochs: DEFAULT_TRAIN_CONFIG.epochs,
  batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
  patience: DEFAULT_TRAIN_CONFIG.patience,
  minDelta: DEFAULT_TRAIN_CONFIG.minDelta,
  monitor: DEFAULT_TRAIN_CONFIG.monitor,
  stepSize: DEFAULT_TRAIN_CONFIG.stepSize,
  gamma: DEFAULT_TRAIN_CONFIG.gamma,
  frozenBn: DEFAULT_TRAIN_CONFIG.frozenBn,
  precision: DEFAULT_TRAIN_CONFIG.precision,
  channelsLast: DEFAULT_TRAIN_CONFIG.channelsLast,
  device: DEFAULT_TRAIN_CONFIG.device,
  threads: DEFAULT_TRAIN_CONFIG.threads,
  skipBadImages: false,
};

export interface ExperimentSet {
  protocols: ProtocolId[];
  models: string[];
  /** SWFT / LoRA steps to run (default: 1..number of groups) */
  steps?: number[];
}

export interface StudyConfig {
  /** title of the report */
  name: string;
  experiments: ExperimentSet[];
  /** target dataset spec (CE-NBI): folder, spreadsheet, manifest or JSON spec */
  target: string;
  /** intermediate dataset spec (DR trainLabels.csv); needed by protocols 4, swft, lora-swft */
  intermediate?: string;
  /** folder with torchvision's published ImageNet weight files */
  weightsDir?: string;
  /** per-model initial weights used instead of ImageNet (the demo's synthetic source model) */
  initialWeights?: Record<string, string>;
  runs: number;
  /** base seed: the splits use it; run r trains with mixSeed(seed, r) */
  seed: number;
  targetSplit: number[];
  intermediateSplit: number[];
  groupBy?: 'patient';
  lora: { rank: number; alpha: number };
  recipe: Recipe;
  out: string;
}

export const DEFAULT_STUDY: Omit<StudyConfig, 'experiments' | 'target' | 'out'> = {
  name: 'THTL study',
  runs: 3,
  seed: 123,
  targetSplit: [0.7, 0.2, 0.1],
  intermediateSplit: [0.7, 0.3],
  lora: { rank: 8, alpha: 16 },
  recipe: DEFAULT_RECIPE,
};

/** One training run to do; several plan entries (report rows) may point at one unit. */
export interface Unit {
  /** run folder relative to the study folder; also the unit's identity */
  dir: string;
  model: string;
  run: number;
  seed: number;
  domain: 'target' | 'intermediate';
  init: 'imagenet' | 'random' | 'plus';
  /** 'all', or the group names that train */
  trainable: 'all' | string[];
  lora?: string[];
  /** unit dir whose weights.safetensors this one starts from */
  after?: string;
}

export interface Plan {
  units: Unit[];
  entries: PlanEntry[];
}

export function runSeed(base: number, run: number): number {
  return mixSeed(base, run);
}

/** Expands the experiments into units (deduplicated, dependencies first) and report entries. */
export function planStudy(cfg: Pick<StudyConfig, 'experiments' | 'runs' | 'seed'>, groupsOf: (model: string) => string[]): Plan {
  if (!Number.isInteger(cfg.runs) || cfg.runs < 1) throw new Error(`runs must be a positive integer, got ${cfg.runs}`);
  const units = new Map<string, Unit>();
  const entries: PlanEntry[] = [];
  const add = (u: Unit): string => {
    if (!units.has(u.dir)) units.set(u.dir, u);
    return u.dir;
  };
  for (const set of cfg.experiments) {
    for (const model of set.models) {
      const groups = groupsOf(model);
      const steps = set.steps ?? groups.map((_, i) => i + 1);
      for (const k of steps)
        if (!Number.isInteger(k) || k < 1 || k > groups.length)
          throw new Error(`step ${k} does not exist for ${model}: steps run from 1 to ${groups.length} (${groups.join(', ')})`);
      for (let run = 1; run <= cfg.runs; run++) {
        const seed = runSeed(cfg.seed, run);
        const base = `runs/${model}/run-${run}`;
        const common = { model, run, seed };
        const entry = (stage: Stage, dir: string, step?: number) =>
          entries.push({ stage, model, run, seed, dir, ...(step !== undefined ? { step } : {}) });
        const plus = () => add({ ...common, dir: `${base}/plus`, domain: 'intermediate', init: 'imagenet', trainable: 'all' });
        const plusplus = (p: string) => add({ ...common, dir: `${base}/plusplus`, domain: 'target', init: 'plus', trainable: [groups[0]!], after: p });
        for (const protocol of set.protocols) {
          if (protocol === '1') entry('expt1', add({ ...common, dir: `${base}/expt1`, domain: 'target', init: 'imagenet', trainable: 'all' }));
          if (protocol === '2') entry('expt2', add({ ...common, dir: `${base}/expt2`, domain: 'target', init: 'random', trainable: 'all' }));
          if (protocol === '3') entry('expt3', add({ ...common, dir: `${base}/expt3`, domain: 'target', init: 'imagenet', trainable: [groups[0]!] }));
          if (protocol === '4') {
            const p = plus();
            entry('plus', p);
            entry('plusplus', plusplus(p));
          }
          if (protocol === 'swft' || protocol === 'lora-swft') {
            const p = plus();
            const lora = protocol === 'lora-swft';
            for (const k of steps) {
              const first = groups.slice(0, k);
              const dir =
                k === 1
                  ? plusplus(p)
                  : add({
                      ...common,
                      dir: `${base}/${lora ? 'lora' : 'swft'}-step-${k}`,
                      domain: 'target',
                      init: 'plus',
                      trainable: lora ? [groups[0]!] : k === groups.length ? 'all' : first,
                      ...(lora ? { lora: first.slice(1) } : {}),
                      after: p,
                    });
              entry(lora ? 'lora' : 'swft', dir, k);
            }
          }
        }
      }
    }
  }
  // dependencies first: every + model before the target runs that start from it
  const ordered = [...units.values()].sort((a, b) => Number(b.domain === 'intermediate') - Number(a.domain === 'intermediate'));
  return { units: ordered, entries };
}

function initialWeights(cfg: StudyConfig, model: string): string {
  const given = cfg.initialWeights?.[model];
  if (given) return resolve(given);
  if (!cfg.weightsDir) throw new Error(`${model} needs ImageNet weights: give --weights-dir (a folder with torchvision's published .pth files)`);
  return findImagenetWeights(model, cfg.weightsDir);
}

function lrOf(recipe: Recipe, model: string): number | undefined {
  if (typeof recipe.lr === 'number') return recipe.lr;
  return recipe.lr?.[model];
}

/** The TrainConfig of a unit inside the study folder. */
export function unitConfig(cfg: StudyConfig, unit: Unit, splitFiles: { target: string; intermediate?: string }): TrainConfig {
  const out = resolve(cfg.out);
  const r = cfg.recipe;
  const weights = unit.init === 'imagenet' ? initialWeights(cfg, unit.model) : unit.init === 'plus' ? join(out, unit.after!, 'weights.safetensors') : undefined;
  const splitFile = unit.domain === 'target' ? splitFiles.target : splitFiles.intermediate!;
  const lr = lrOf(r, unit.model);
  return {
    ...DEFAULT_TRAIN_CONFIG,
    model: unit.model,
    data: unit.domain === 'target' ? cfg.target : cfg.intermediate!,
    splitFile,
    split: unit.domain === 'target' ? cfg.targetSplit : cfg.intermediateSplit,
    epochs: r.epochs,
    batchSize: r.batchSize,
    ...(lr !== undefined ? { lr } : {}),
    ...(r.inputSize !== undefined ? { inputSize: r.inputSize } : {}),
    ...(unit.trainable !== 'all' && !unit.lora ? { trainableGroups: unit.trainable } : {}),
    ...(unit.lora ? { lora: { groups: unit.lora, rank: cfg.lora.rank, alpha: cfg.lora.alpha } } : {}),
    frozenBn: r.frozenBn,
    precision: r.precision,
    channelsLast: r.channelsLast,
    ...(weights ? { weights } : {}),
    device: r.device,
    threads: r.threads,
    seed: unit.seed,
    out: join(out, unit.dir),
    patience: r.patience,
    minDelta: r.minDelta,
    monitor: r.monitor,
    stepSize: r.stepSize,
    gamma: r.gamma,
    skipBadImages: r.skipBadImages,
    ...(r.cacheDir ? { cacheDir: r.cacheDir } : {}),
    ...(r.noCache ? { noCache: true } : {}),
    resume: true,
    keepCheckpoint: false,
  };
}

function checkStudy(cfg: StudyConfig, plan: Plan): void {
  if (!cfg.target) throw new Error('the study needs a target dataset (--target)');
  if (!existsSync(cfg.target)) throw new Error(`target dataset ${cfg.target} does not exist`);
  if (cfg.intermediate && !existsSync(cfg.intermediate)) throw new Error(`intermediate dataset ${cfg.intermediate} does not exist`);
  if (plan.units.some((u) => u.domain === 'intermediate') && !cfg.intermediate)
    throw new Error('protocols 4, swft and lora-swft need an intermediate dataset (--intermediate)');
  // every ImageNet weight file up front, so a missing one is reported before hours of training
  const missing: string[] = [];
  for (const model of new Set(plan.units.filter((u) => u.init === 'imagenet').map((u) => u.model))) {
    try {
      initialWeights(cfg, model);
    } catch (err) {
      missing.push((err as Error).message);
    }
  }
  if (missing.length > 0) throw new Error(missing.join('\n'));
}

/** The study's splits, made once with the base seed and shared by every run (split.json files in splits/). */
async function studySplits(cfg: StudyConfig, needIntermediate: boolean, progress: ProgressSink): Promise<{ target: string; intermediate?: string }> {
  const out = resolve(cfg.out);
  const make = async (name: 'target' | 'intermediate', data: string, ratios: number[]): Promise<string> => {
    const path = join(out, 'splits', `${name}.json`);
    if (existsSync(path)) {
      const before = readSplitFile(path);
      const same = before.seed === cfg.seed && before.ratios.join() === ratios.join() && before.dataset === data &&
        (before.groupBy ?? null) === (name === 'target' ? (cfg.groupBy ?? null) : null);
      if (!same)
        throw new Error(
          `${path} was made from ${before.dataset} with ratios ${before.ratios.join(',')}, seed ${before.seed}` +
            `${before.groupBy ? `, grouped by ${before.groupBy}` : ''}; this study asks for ${data} with ${ratios.join(',')}, seed ${cfg.seed}: use another --out`,
        );
    } else {
      const split = await buildSplit({
        ...DEFAULT_TRAIN_CONFIG, model: '', out, data, split: ratios, seed: cfg.seed, skipBadImages: cfg.recipe.skipBadImages,
        ...(name === 'target' && cfg.groupBy ? { groupBy: cfg.groupBy } : {}),
      });
      writeSplitFile(path, split);
      progress.line(`${name} split (seed ${cfg.seed}): train ${split.train.length} / val ${split.val.length} / test ${split.test.length} -> ${path}`);
    }
    return path;
  };
  const target = await make('target', cfg.target, cfg.targetSplit);
  return needIntermediate ? { target, intermediate: await make('intermediate', cfg.intermediate!, cfg.intermediateSplit) } : { target };
}

export interface StudyFile {
  version: 1;
  name: string;
  config: StudyConfig;
  modelOrder: string[];
  entries: PlanEntry[];
}

export function readStudyFile(dir: string): StudyFile {
  const path = join(dir, 'study.json');
  if (!existsSync(path)) throw new Error(`${path} does not exist: ${dir} is not a study folder (made by \`thtl-native experiment\` or \`reproduce\`)`);
  return JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
}

/** The report rows of a study folder: one RunRecord per plan entry whose run has finished. */
export function collectRecords(dir: string, study: StudyFile = readStudyFile(dir)): { records: RunRecord[]; missing: PlanEntry[] } {
  const records: RunRecord[] = [];
  const missing: PlanEntry[] = [];
  for (const e of study.entries) {
    const finalPath = join(dir, e.dir, 'final.json');
    if (!existsSync(finalPath)) {
      missing.push(e);
      continue;
    }
    const f = JSON.parse(readFileSync(finalPath, 'utf8')) as RunResult;
    if (!f.test && e.stage !== 'plus') {
      missing.push(e);
      continue;
    }
    records.push({
      stage: e.stage,
      model: e.model,
      run: e.run,
      seed: e.seed,
      ...(e.step !== undefined ? { step: e.step } : {}),
      classes: f.classes,
      epochsRun: f.epochsRun,
      bestEpoch: f.bestEpoch,
      avgEpochSeconds: f.avgEpochSeconds,
      valAccuracy: f.valAccuracy,
      valLoss: f.valLoss,
      trainableParams: f.trainableParams,
      totalParams: f.totalParams,
      test: f.test,
      dir: e.dir,
    });
  }
  return { records, missing };
}

export interface StudyResult {
  dir: string;
  records: RunRecord[];
  reportFiles: string[];
  seconds: number;
}

/** Runs (or resumes) a study; `options.signal` aborts it between and inside runs (resumable). */
export async function runStudy(cfg: StudyConfig, progress: ProgressSink = consoleProgress(), options: RunOptions = {}): Promise<StudyResult> {
  const t0 = Date.now();
  const out = resolve(cfg.out);
  const groupsOf = (model: string) => findModelInfo(model).groups.map((g) => g.name); // unknown names throw here
  const plan = planStudy(cfg, groupsOf);
  checkStudy(cfg, plan);
  const modelOrder = [...new Set(cfg.experiments.flatMap((s) => s.models))];
  const study: StudyFile = { version: 1, name: cfg.name, config: cfg, modelOrder, entries: plan.entries };
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'study.json'), study);
  native().setThreads(cfg.recipe.threads);
  const splits = await studySplits(cfg, plan.units.some((u) => u.domain === 'intermediate'), progress);
  progress.line(`${cfg.name}: ${plan.units.length} training run(s), ${plan.entries.length} report row(s) -> ${out}`);
  for (const [i, unit] of plan.units.entries()) {
    const tag = `[${i + 1}/${plan.units.length}] ${unit.dir}`;
    progress.line(`${tag}: ${describe(unit)}`);
    const r = await trainRun(unitConfig(cfg, unit, splits), prefixed(progress, tag), options);
    if (r.reused) continue; // the runner has said so
    const summary = r.test ? `test accuracy ${r.test.accuracy.toFixed(4)}${r.test.auc !== null ? `, AUC ${r.test.auc.toFixed(4)}` : ''}` : `val accuracy ${r.valAccuracy.toFixed(4)}`;
    progress.line(`${tag}: ${r.epochsRun} epochs, ${summary} (elapsed ${formatDuration((Date.now() - t0) / 1000)})`);
  }
  const { records } = collectRecords(out, study);
  const reportFiles = await writeStudyReport(out, study, records);
  progress.line(`report: ${reportFiles.length} file(s) in ${join(out, 'report')}`);
  return { dir: out, records, reportFiles, seconds: (Date.now() - t0) / 1000 };
}

function describe(u: Unit): string {
  const init = u.init === 'plus' ? `the + model (${u.after})` : u.init === 'imagenet' ? 'ImageNet weights' : 'random initialisation';
  const what = u.lora ? `head + LoRA on ${u.lora.join(', ') || 'no group'}` : u.trainable === 'all' ? 'every parameter' : u.trainable.join(', ');
  return `${u.model} on the ${u.domain} domain from ${init}, training ${what}, seed ${u.seed}`;
}

function prefixed(p: ProgressSink, tag: string): ProgressSink {
  const short = tag.split(' ')[0]!;
  return { status: (s) => p.status(`${short} ${s}`), line: (s) => p.line(`${short} ${s}`) };
}

/** Tables and ROC figures of a study folder into <dir>/report; `thtl-native report` calls the same. */
export async function writeStudyReport(dir: string, study: StudyFile, records: RunRecord[]): Promise<string[]> {
  const { writeReport } = await import('../report/index.js');
  const files = await writeReport(join(dir, 'report'), records, { modelOrder: study.modelOrder, title: study.name });
  return files.map((f) => relative(dir, f));
}
