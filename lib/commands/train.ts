// `thtl-native train`: one model, one run folder. Every flag but --quiet and --json
// (output.ts) is a training option of TRAIN_OPTIONS (lib/train/config.ts), read back
// typed by readTrainingFlags.
import type { Command, OptionValues } from 'commander';

import { addTrainingFlags, readTrainingFlags } from './options.js';
import { outputFlags, readOutputFlags, trainResultEvent } from './output.js';
import { interruptible } from '../util/interrupt.js';
import { commandProgress } from '../util/progress.js';
import { formatReport } from '../report/metrics-table.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainOption } from '../train/config.js';
import { trainRun, type RunResult } from '../train/runner.js';

/** The flags of `train`, in the order of its help. */
const TRAIN_FLAGS = [
  'model', 'data', 'splitFile', 'groupBy', 'split', 'valDir', 'testDir', 'headOnly', 'weights',
  'epochs', 'batchSize', 'lr', 'inputSize', 'frozenBn', 'device', 'precision', 'channelsLast', 'threads', 'seed',
  'patience', 'minDelta', 'monitor', 'skipBadImages', 'cacheDir', 'noCache', 'resume', 'out',
] as const satisfies readonly TrainOption[];

/** The TrainConfig of `train`'s parsed flags. */
export function trainConfigOf(o: OptionValues): TrainConfig {
  const flags = readTrainingFlags(o, TRAIN_FLAGS);
  const { model, out } = flags;
  const data = flags.data ?? flags.splitFile;
  if (!data) throw new Error('give --data (a dataset) or --split-file (a saved split)');
  if (!model || !out) throw new Error('give --model and --out');
  // the library's check (buildSplit) names the options; here they are flags
  if (!flags.splitFile && !flags.valDir !== !flags.testDir) throw new Error('--val and --test must be given together');
  return { ...DEFAULT_TRAIN_CONFIG, ...flags, model, data, out };
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
  outputFlags(addTrainingFlags(train, TRAIN_FLAGS, 'fill')).action(async (o: OptionValues) => {
    const cfg = trainConfigOf(o);
    const output = readOutputFlags(o);
    const progress = commandProgress(output);
    const r = await interruptible(`run the same command with --resume to go on from the last finished epoch of ${cfg.out}`, (signal) =>
      trainRun(cfg, progress, { signal }),
    );
    if (r && output.json) progress.event?.(trainResultEvent(r));
    else if (r) printResult(r);
  });
}
