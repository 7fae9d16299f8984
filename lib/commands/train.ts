// `thtl-native train`: one model, one run folder. Every flag is a training option of
// TRAIN_OPTIONS (lib/train/config.ts), read back typed by readTrainingFlags. What the
// command line can get wrong is refused here, naming the flags, before any file is read:
// flags that contradict each other, a folder that holds a run without --resume or
// --force, and with --resume any setting that differs from the run's own config.json.
// --quiet and --json (output.ts) choose what is printed.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command, OptionValues } from 'commander';

import { addTrainingFlags, attributeOf, flagOf, readTrainingFlags } from './options.js';
import { conflict, given, UsageError } from './usage.js';
import { outputFlags, readOutputFlags, trainResultEvent } from './output.js';
import { interruptible } from '../util/interrupt.js';
import { commandProgress } from '../util/progress.js';
import { runIn } from '../util/runfolder.js';
import { LabelVariantsError } from '../data/labels.js';
import { findModelInfo } from '../models/index.js';
import { formatReport } from '../report/metrics-table.js';
import { DEFAULT_TRAIN_CONFIG, shown, TRAIN_OPTION_NAMES, type TrainConfig, type TrainOption } from '../train/config.js';
import { trainRun, type RunResult } from '../train/runner.js';

/** The flags of `train`, in the order of its help. */
const TRAIN_FLAGS = [
  'model', 'data', 'splitFile', 'groupBy', 'split', 'valDir', 'testDir', 'headOnly', 'weights',
  'epochs', 'batchSize', 'lr', 'inputSize', 'frozenBn', 'device', 'precision', 'channelsLast', 'threads', 'seed',
  'patience', 'minDelta', 'monitor', 'calibrate', 'skipBadImages', 'labelNormalize', 'cacheDir', 'noCache', 'resume', 'force', 'out',
] as const satisfies readonly TrainOption[];

/** Settings a resumed run may take from the command line although its config.json has others: they do not change the run. */
const FREE_ON_RESUME: readonly TrainOption[] = ['device', 'threads', 'cacheDir', 'noCache', 'resume', 'out'];
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

/** The settings a run folder's config.json holds (TrainConfig fields only), or null when there is none. */
function storedConfig(out: string): Partial<TrainConfig> | null {
  const path = join(resolve(out), 'config.json');
  if (!existsSync(path)) return null;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); the run folder is damaged`);
  }
  return Object.fromEntries(TRAIN_OPTION_NAMES.filter((k) => raw[k] !== undefined).map((k) => [k, raw[k]])) as Partial<TrainConfig>;
}

/** `train --resume`: the run's own settings, with the flags given on top; a flag that would change the run is refused, naming each. */
function resumeConfig(flags: Partial<TrainConfig>, out: string, isGiven: (name: TrainOption) => boolean): TrainConfig | null {
  const stored = storedConfig(out);
  if (!stored) return null;
  const same = (name: TrainOption, a: unknown, b: unknown): boolean =>
    PATH_OPTIONS.includes(name) && typeof a === 'string' && typeof b === 'string' ? resolve(a) === resolve(b) : JSON.stringify(a) === JSON.stringify(b);
  const differ = TRAIN_FLAGS.filter((name) => isGiven(name) && !FREE_ON_RESUME.includes(name) && !same(name, stored[name], flags[name]));
  if (differ.length > 0)
    throw new UsageError(
      `${differ.map((name) => `${flagOf(name)}: the run has ${shown(stored[name] ?? null)}, you gave ${shown(flags[name])}`).join('; ')} ` +
        `(${resolve(out)}); drop the flag to resume, or start a new run with another --out or --force`,
    );
  const free = Object.fromEntries(FREE_ON_RESUME.filter((name) => isGiven(name)).map((name) => [name, flags[name]]));
  return { ...DEFAULT_TRAIN_CONFIG, ...stored, ...free, resume: true, out } as TrainConfig;
}

/** The TrainConfig of `train`'s parsed flags; `cmd` tells flags given from defaults. */
export function trainConfigOf(o: OptionValues, cmd: Command): TrainConfig {
  const flags = readTrainingFlags(o, TRAIN_FLAGS);
  const isGiven = (name: TrainOption): boolean => given(cmd, attributeOf(name));
  checkConflicts(isGiven);
  const { out } = flags;
  if (!out) throw new UsageError('give --out');
  if (flags.resume) {
    const resumed = resumeConfig(flags, out, isGiven);
    if (resumed) return resumed;
  } else if (!flags.force) {
    const there = runIn(resolve(out));
    if (there) throw new UsageError(`${resolve(out)} holds ${there}; give --resume to go on with it, or --force to start over (the old run is moved to ${resolve(out)}.replaced-<time>)`);
  }
  const data = flags.data ?? flags.splitFile;
  if (!data) throw new UsageError('give --data (a dataset) or --split-file (a saved split)');
  if (!flags.model) throw new UsageError('give --model');
  try {
    findModelInfo(flags.model);
  } catch (err) {
    throw new UsageError(`--model: ${(err as Error).message}`);
  }
  // the library's check (buildSplit) names the options; here they are flags
  if (!flags.valDir !== !flags.testDir) throw new UsageError('--val and --test must be given together');
  return { ...DEFAULT_TRAIN_CONFIG, ...flags, model: flags.model, data, out };
}

function printResult(r: RunResult): void {
  if (r.test) process.stdout.write(`${formatReport(r.test)}\n`);
  process.stdout.write(
    `epochs run ${r.epochsRun}, best epoch ${r.bestEpoch}, ${r.avgEpochSeconds.toFixed(1)} s/epoch\nrun folder: ${r.dir}\n`,
  );
}

export function registerTrainCommand(program: Command): void {
  const train = program
    .command('train')
    .description('train one model on an image folder and write a run folder with test metrics');
  outputFlags(addTrainingFlags(train, TRAIN_FLAGS, 'fill', { model: { required: false } })).action(async (o: OptionValues, cmd: Command) => {
    const cfg = trainConfigOf(o, cmd);
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
