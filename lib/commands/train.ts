// `thtl-native train`: one model, one run folder. Every flag is a training option of
// TRAIN_OPTIONS (lib/train/config.ts), read back typed by readTrainingFlags. What the
// command line can get wrong is refused here, naming the flags, before any file is read:
// flags that contradict each other, a folder that holds a run without --resume or
// --force, and with --resume any setting that differs from the run's own config.json.
// --quiet and --json (output.ts) choose what is printed. `--folds K` makes it a k-fold
// cross-validation (lib/train/cv.ts): K run folders in --out, resumed and refused alike.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command, OptionValues } from 'commander';

import { addTrainingFlags, attributeOf, flagOf, parseFolds, readTrainingFlags } from './options.js';
import { conflict, given, UsageError } from './usage.js';
import { outputFlags, readOutputFlags, trainResultEvent } from './output.js';
import { interruptible } from '../util/interrupt.js';
import { commandProgress } from '../util/progress.js';
import { runIn } from '../util/runfolder.js';
import { LabelVariantsError } from '../data/labels.js';
import { findModelInfo } from '../models/index.js';
import { formatReport } from '../report/metrics-table.js';
import { DEFAULT_TRAIN_CONFIG, RESUME_FREE_OPTIONS, shown, TRAIN_OPTION_NAMES, type TrainConfig, type TrainOption } from '../train/config.js';
import { trainRun, type RunResult } from '../train/runner.js';
import { cvMarkdown, FoldsError, trainCrossValidation, type CvSummary } from '../train/cv.js';

/** The flags of `train`, in the order of its help. */
const TRAIN_FLAGS = [
  'model', 'data', 'splitFile', 'groupBy', 'split', 'valDir', 'testDir', 'headOnly', 'weights',
  'epochs', 'batchSize', 'lr', 'inputSize', 'frozenBn', 'device', 'precision', 'channelsLast', 'threads', 'seed',
  'patience', 'minDelta', 'monitor', 'calibrate', 'skipBadImages', 'labelNormalize', 'cacheDir', 'noCache', 'resume', 'force', 'out',
] as const satisfies readonly TrainOption[];

/** Options whose values are paths: compared resolved. */
const PATH_OPTIONS: readonly TrainOption[] = ['data', 'splitFile', 'valDir', 'testDir', 'weights'];

/** Flags that cannot go together; each pair is refused while the command line is read. */
function checkConflicts(isGiven: (name: TrainOption) => boolean): void {
  const pairs: [TrainOption, TrainOption, string][] = [
    ['data', 'splitFile', 'the split file names its images; give one or the other'],
    ['splitFile', 'split', 'the split file fixes the split; ratios would be ignored'],
    ['splitFile', 'groupBy', 'the split file fixes the split; grouping would be ignored'],
    ['splitFile', 'valDir', 'the split file names the validation images'],
    ['splitFile', 'testDir', 'the split file names the test images'],
    ['valDir', 'split', '--val/--test give the validation and test images; ratios would be ignored'],
    ['valDir', 'groupBy', '--val/--test give the validation and test images; grouping would be ignored'],
    ['noCache', 'cacheDir', '--no-cache decodes into memory without a cache folder'],
    ['resume', 'force', '--resume keeps the run in the folder, --force replaces it'],
  ];
  for (const [a, b, why] of pairs) if (isGiven(a) && isGiven(b)) throw conflict(flagOf(a), flagOf(b), why);
}

/** The settings a run folder's config.json holds (TrainConfig fields only) and whether auto chose its precision, or null when there is none. */
function storedConfig(out: string): { stored: Partial<TrainConfig>; precisionAuto: boolean } | null {
  const path = join(resolve(out), 'config.json');
  if (!existsSync(path)) return null;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); the run folder is damaged`);
  }
  const stored = Object.fromEntries(TRAIN_OPTION_NAMES.filter((k) => raw[k] !== undefined).map((k) => [k, raw[k]])) as Partial<TrainConfig>;
  return { stored, precisionAuto: raw.precisionRequested === 'auto' };
}

/** `train --resume`: the run's own settings, with the flags given on top; a flag that would change the run is refused, naming each. */
function resumeConfig(flags: Partial<TrainConfig>, out: string, isGiven: (name: TrainOption) => boolean): TrainConfig | null {
  const found = storedConfig(out);
  if (!found) return null;
  const { stored } = found;
  // --precision auto: the run resolves it (a run auto started keeps what auto chose) and
  // its identity check refuses a choice that differs from the run's
  const same = (name: TrainOption, a: unknown, b: unknown): boolean =>
    name === 'precision' && b === 'auto'
      ? true
      : PATH_OPTIONS.includes(name) && typeof a === 'string' && typeof b === 'string'
        ? resolve(a) === resolve(b)
        : JSON.stringify(a) === JSON.stringify(b);
  const differ = TRAIN_FLAGS.filter((name) => isGiven(name) && !RESUME_FREE_OPTIONS.includes(name) && !same(name, stored[name], flags[name]));
  if (differ.length > 0)
    throw new UsageError(
      `${differ.map((name) => `${flagOf(name)}: the run has ${shown(stored[name] ?? null)}, you gave ${shown(flags[name])}`).join('; ')} ` +
        `(${resolve(out)}); drop the flag to resume, or start a new run with another --out or --force`,
    );
  const free = Object.fromEntries(RESUME_FREE_OPTIONS.filter((name) => isGiven(name)).map((name) => [name, flags[name]]));
  const auto = isGiven('precision') ? flags.precision === 'auto' : found.precisionAuto;
  return { ...DEFAULT_TRAIN_CONFIG, ...stored, ...free, ...(auto ? { precision: 'auto' } : {}), resume: true, out } as TrainConfig;
}

/** `train --folds K`: the flags that cannot go with it, and the folder (a cross-validation there needs --resume or --force; --resume goes on with its own settings). */
function crossValidationConfig(flags: Partial<TrainConfig>, folds: number, out: string, isGiven: (name: TrainOption) => boolean): TrainConfig | null {
  const why = "the folds make each fold's train, validation and test parts from --data";
  if (isGiven('splitFile')) throw conflict('--folds', flagOf('splitFile'), why);
  if (isGiven('valDir')) throw conflict('--folds', flagOf('valDir'), why);
  if (isGiven('testDir')) throw conflict('--folds', flagOf('testDir'), why);
  const dir = resolve(out);
  const there = runIn(dir);
  const foldsPath = join(dir, 'folds.json');
  const aside = `(the old folder is moved to ${dir}.replaced-<time>)`;
  if (!flags.resume) {
    if (there && !flags.force) throw new UsageError(`${dir} holds ${there}; give --resume to go on with it, or --force to start over ${aside}`);
    return null;
  }
  if (there && !existsSync(foldsPath)) throw new UsageError(`${dir} holds ${there}, not a cross-validation (no folds.json); drop --folds to resume it, or give another --out`);
  if (!existsSync(foldsPath)) return null;
  let of: unknown;
  try {
    of = (JSON.parse(readFileSync(foldsPath, 'utf8')) as { of?: unknown }).of;
  } catch (err) {
    throw new Error(`${foldsPath} is not valid JSON (${(err as Error).message}); the cross-validation folder is damaged`);
  }
  if (of !== folds) throw new UsageError(`--folds: the cross-validation has ${shown(of)}, you gave ${folds} (${dir}); give --folds ${shown(of)} to resume, or start a new one with another --out or --force`);
  // the settings of its first fold's run (every fold has the same), the flags given on top
  const resumed = resumeConfig(flags, join(dir, 'fold-1'), isGiven);
  if (!resumed) return null;
  const { splitFile: _split, ...rest } = resumed;
  return { ...rest, out } as TrainConfig;
}

/** `train`'s parsed command line: the TrainConfig, and `folds` (K) for a cross-validation, else null. */
export interface TrainCommand {
  cfg: TrainConfig;
  folds: number | null;
}

/** The TrainConfig of `train`'s parsed flags; `cmd` tells flags given from defaults. */
export function trainConfigOf(o: OptionValues, cmd: Command): TrainConfig {
  return trainCommandOf(o, cmd).cfg;
}

/** `train`'s parsed flags as a TrainConfig and the number of folds; `cmd` tells flags given from defaults. */
export function trainCommandOf(o: OptionValues, cmd: Command): TrainCommand {
  const flags = readTrainingFlags(o, TRAIN_FLAGS);
  const isGiven = (name: TrainOption): boolean => given(cmd, attributeOf(name));
  const folds = typeof o.folds === 'number' ? o.folds : null;
  checkConflicts(isGiven);
  const { out } = flags;
  if (!out) throw new UsageError('give --out');
  const done = (cfg: TrainConfig): TrainCommand => ({ cfg, folds });
  if (folds !== null) {
    const resumed = crossValidationConfig(flags, folds, out, isGiven);
    if (resumed) return done(resumed);
  } else if (flags.resume && existsSync(join(resolve(out), 'folds.json'))) {
    throw new UsageError(`${resolve(out)} holds ${runIn(resolve(out))}; give --folds with --resume to go on with it`);
  } else if (flags.resume) {
    const resumed = resumeConfig(flags, out, isGiven);
    if (resumed) return done(resumed);
  } else if (!flags.force) {
    const there = runIn(resolve(out));
    if (there) throw new UsageError(`${resolve(out)} holds ${there}; give --resume to go on with it, or --force to start over (the old run is moved to ${resolve(out)}.replaced-<time>)`);
  }
  const data = flags.data ?? flags.splitFile;
  if (!data) throw new UsageError(folds !== null ? 'give --data (the dataset to divide into folds)' : 'give --data (a dataset) or --split-file (a saved split)');
  if (!flags.model) throw new UsageError('give --model');
  try {
    findModelInfo(flags.model);
  } catch (err) {
    throw new UsageError(`--model: ${(err as Error).message}`);
  }
  // the library's check (buildSplit) names the options; here they are flags
  if (!flags.valDir !== !flags.testDir) throw new UsageError('--val and --test must be given together');
  return done({ ...DEFAULT_TRAIN_CONFIG, ...flags, model: flags.model, data, out });
}

function printResult(r: RunResult): void {
  if (r.test) process.stdout.write(`${formatReport(r.test)}\n`);
  process.stdout.write(
    `epochs run ${r.epochsRun}, best epoch ${r.bestEpoch}, ${r.avgEpochSeconds.toFixed(1)} s/epoch\nrun folder: ${r.dir}\n`,
  );
}

/** The pooled out-of-fold metrics in one line (`train --folds --quiet`). */
function cvLine(s: CvSummary): string {
  const f = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
  const iv = (i: { estimate: number; lo: number; hi: number } | null): string => (i ? `${f(i.estimate)} [${f(i.lo)}, ${f(i.hi)}]` : 'n/a');
  return (
    `pooled over ${s.folds} folds (${s.pooled.n} images): accuracy ${iv(s.pooled.accuracy)}, AUC ${iv(s.pooled.auc)}, macro F1 ${iv(s.pooled.macroF1)}, ECE ${f(s.pooled.ece)}; ` +
    `fold mean accuracy ${f(s.mean.accuracy)} ± ${f(s.std.accuracy)}`
  );
}

/** `train --folds K`: the cross-validation, its cv.md table (one line with --quiet) or its result event (--json). */
async function runCrossValidation(cfg: TrainConfig, folds: number, o: OptionValues): Promise<void> {
  const output = readOutputFlags(o);
  const progress = commandProgress(output);
  const r = await interruptible(`run the same command with --resume to go on (finished folds are reused) in ${resolve(cfg.out)}`, (signal) =>
    trainCrossValidation(cfg, { folds, progress, signal }).catch((err: unknown) => {
      // the library names the options, the command line its flags
      if (err instanceof FoldsError) throw new Error(err.flagged);
      throw err instanceof LabelVariantsError ? new Error(err.withMerge('--label-normalize')) : err;
    }),
  );
  if (!r) return;
  if (output.json) progress.event?.({ event: 'result', dir: r.dir, ...r.summary });
  else if (output.quiet) process.stdout.write(`${cvLine(r.summary)}\ncross-validation folder: ${r.dir}\n`);
  else process.stdout.write(`${cvMarkdown(r.summary)}\ncross-validation folder: ${r.dir} (cv.json, cv.md, folds.json, fold-1 .. fold-${folds})\n`);
}

export function registerTrainCommand(program: Command): void {
  const train = program
    .command('train')
    .description('train one model on an image folder and write a run folder with test metrics (with --folds: a k-fold cross-validation)');
  addTrainingFlags(train, TRAIN_FLAGS, 'fill', { model: { required: false } });
  train.option(
    '--folds <k>',
    'k-fold cross-validation: folds.json and K runs in <out>/fold-1..fold-K, each tested on one fold (with --group-by patient no patient in two folds), ' +
      "validated on the --split val share of train+val (0.2/0.9 by default) of the other folds; then cv.json and cv.md",
    parseFolds,
  );
  outputFlags(train).action(async (o: OptionValues, cmd: Command) => {
    const { cfg, folds } = trainCommandOf(o, cmd);
    if (folds !== null) return runCrossValidation(cfg, folds, o);
    const output = readOutputFlags(o);
    const progress = commandProgress(output);
    const r = await interruptible(`run the same command with --resume to go on from the last finished epoch of ${cfg.out}`, (signal) =>
      trainRun(cfg, progress, { signal }).catch((err: unknown) => {
        // the library names the option, the command line its flag
        throw err instanceof LabelVariantsError ? new Error(err.withMerge('--label-normalize')) : err;
      }),
    );
    if (r && output.json) progress.event?.(trainResultEvent(r));
    else if (r) printResult(r);
  });
}
