// `thtl-native experiment`, `reproduce`, `report` and `weights`: the paper's study
// (protocols, SWFT, LoRA, repeated runs) and its tables and figures. See lib/experiment/.
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';

import { addTrainingFlags, readTrainingFlags, list, nonNegativeInt, parseFolds, positiveInt, positiveIntList, positiveNumber, ratios } from './options.js';
import { conflict, UsageError } from './usage.js';
import { readStudyConfig, mergeStudy, type PartialStudy } from '../experiment/config-file.js';
import { parseProtocols, PROTOCOLS } from '../experiment/protocols.js';
import { DEFAULT_STUDY, type Recipe, type RecipeOption, type StudyConfig } from '../experiment/study-config.js';
import { checkStudyFolder, collectRecords, readStudyFile, StudyFolderError, type StudyFolderOptions } from '../experiment/study-folder.js';
import { prepareStudy, runStudy, writeStudyReport } from '../experiment/study.js';
import { writePlanFile } from '../scale/plan-file.js';
import { submitStudy } from '../scale/slurm.js';
import { checkGpus, executorChoice, executorFlags, formatPlan } from './scale.js';
import { fetchWeights, imagenetWeightFiles, WEIGHTS_BASE_URL } from '../models/index.js';
import { interruptible } from '../util/interrupt.js';
import { commandProgress, consoleProgress, formatDuration } from '../util/progress.js';
import { outputFlags, readOutputFlags } from './output.js';

/** The recipe options `experiment`, `reproduce` and `plan` take as flags (stepSize, gamma, minDelta, noCache: config file only). */
const STUDY_TRAINING_FLAGS = ['epochs', 'batchSize', 'lr', 'inputSize', 'patience', 'monitor', 'frozenBn', 'precision', 'channelsLast', 'device', 'threads', 'cacheDir', 'skipBadImages'] as const satisfies readonly RecipeOption[];

/** Flags shared by `experiment` and `reproduce`; each overrides the config file and the paper's recipe. */
function studyOptions(cmd: Command): Command {
  cmd
    .option('--target <spec>', 'target dataset (CE-NBI spreadsheet/folder, ImageFolder, manifest or JSON spec)')
    .option('--intermediate <spec>', 'intermediate dataset (DR trainLabels.csv, ImageFolder, ...); protocols 4, swft, lora-swft')
    .option('--weights-dir <dir>', "folder with torchvision's published ImageNet .pth files (see `thtl-native weights list`)")
    .option('--runs <n>', `runs per configuration (default: ${DEFAULT_STUDY.runs})`, positiveInt('--runs'))
    .option('--folds <k>', 'k-fold cross-validation of the target (run k tested on fold k; replaces --runs and the test share of --target-split)', parseFolds)
    .option('--seed <n>', `base seed: splits use it, run r trains with a seed derived from it (default: ${DEFAULT_STUDY.seed})`, nonNegativeInt('--seed'))
    .option('--target-split <ratios>', `target train,val,test ratios (default: ${DEFAULT_STUDY.targetSplit.join(',')})`, ratios('--target-split', 3))
    .option('--intermediate-split <ratios>', `intermediate train,val ratios (default: ${DEFAULT_STUDY.intermediateSplit.join(',')})`, ratios('--intermediate-split', 2))
    .addOption(new Option('--group-by <key>', 'keep every patient in one split of the target').choices(['patient']))
    .option('--lora-rank <n>', `LoRA rank (default: ${DEFAULT_STUDY.lora.rank})`, positiveInt('--lora-rank'))
    .option('--lora-alpha <x>', `LoRA alpha (default: ${DEFAULT_STUDY.lora.alpha})`, positiveNumber('--lora-alpha'));
  addTrainingFlags(cmd, STUDY_TRAINING_FLAGS, 'name', { lr: { help: 'learning rate for every model' } });
  return cmd.option('--out <dir>', 'study folder (runs/, splits/, report/, study.json)');
}

/** --resume and --force of the commands that run a study. */
function resumeFlags(cmd: Command): Command {
  return cmd
    .option('--resume', 'go on with the study in --out: finished runs are kept, interrupted ones go on from their last epoch')
    .option('--force', 'start over in a folder that holds a study: the old study is moved aside to <out>.replaced-<time>');
}

/** The values of the study-level flags (not training options), as their parsers in studyOptions and experimentOptions make them. */
interface StudyFlags {
  target?: string;
  intermediate?: string;
  weightsDir?: string;
  runs?: number;
  folds?: number;
  seed?: number;
  targetSplit?: number[];
  intermediateSplit?: number[];
  groupBy?: 'patient';
  loraRank?: number;
  loraAlpha?: number;
  out?: string;
  config?: string;
  protocol?: string;
  models?: string[];
  steps?: number[];
}

/** The study-level flags of commander's parsed options `o`, typed (the one place they are cast). */
function readStudyFlags(o: Record<string, unknown>): StudyFlags {
  return o as StudyFlags;
}

function flagsToStudy(o: Record<string, unknown>): PartialStudy {
  const recipe: Partial<Recipe> = readTrainingFlags(o, STUDY_TRAINING_FLAGS);
  const f = readStudyFlags(o);
  if (f.runs !== undefined && f.folds !== undefined) throw conflict('--runs', '--folds', 'with --folds, run k is fold k');
  const lora = f.loraRank !== undefined || f.loraAlpha !== undefined ? { rank: f.loraRank ?? DEFAULT_STUDY.lora.rank, alpha: f.loraAlpha ?? DEFAULT_STUDY.lora.alpha } : undefined;
  return {
    target: f.target,
    intermediate: f.intermediate,
    weightsDir: f.weightsDir,
    runs: f.runs,
    folds: f.folds,
    seed: f.seed,
    targetSplit: f.targetSplit,
    intermediateSplit: f.intermediateSplit,
    groupBy: f.groupBy,
    lora,
    out: f.out,
    recipe,
  };
}

/** --protocol/--models/--steps/--config of `experiment` and `plan`. */
function experimentOptions(cmd: Command): Command {
  return studyOptions(
    cmd
      .option('--protocol <list>', `protocols, comma-separated: ${Object.entries(PROTOCOLS).map(([k, v]) => `${k} = ${v}`).join('; ')}`)
      .option('--models <list>', 'model names, comma-separated', list)
      .option('--steps <list>', 'SWFT/LoRA steps to run (default: all)', positiveIntList('--steps'))
      .option('--config <file>', 'study config JSON; flags override it'),
  );
}

/** The study of `experiment`/`plan` flags: the config file, overridden by the flags. */
function experimentStudy(o: Record<string, unknown>): StudyConfig {
  const f = readStudyFlags(o);
  const file = f.config ? readStudyConfig(f.config) : {};
  const flags = flagsToStudy(o);
  if (f.protocol || f.models) {
    if (!f.protocol || !f.models) throw new UsageError('give --protocol and --models together');
    flags.experiments = [{ protocols: parseProtocols(f.protocol), models: f.models, ...(f.steps ? { steps: f.steps } : {}) }];
  }
  return mergeStudy(file, flags);
}

/** The study folder's guard (lib/experiment/study-folder.ts) with the command line's flags: a usage error, before any work. */
function guardStudyFolder(cfg: StudyConfig, o: Record<string, unknown>): void {
  try {
    checkStudyFolder(cfg, folderOptions(o));
  } catch (err) {
    if (err instanceof StudyFolderError) throw new UsageError(err.flagged);
    throw err;
  }
}

/** --resume, --force and --retry-failed as the study folder's guard takes them. */
const folderOptions = (o: Record<string, unknown>): StudyFolderOptions => ({ resume: o.resume === true, force: o.force === true, retryFailed: o.retryFailed === true });

async function runAndPrint(cfg: StudyConfig, o: Record<string, unknown>): Promise<void> {
  const exec = executorChoice(o);
  if (exec.kind !== 'slurm' && exec.local.gpus) checkGpus(exec.local.gpus);
  guardStudyFolder(cfg, o);
  const output = readOutputFlags(o);
  const progress = commandProgress(output);
  if (exec.kind === 'slurm') {
    const prepared = await prepareStudy(cfg, progress, folderOptions(o));
    submitStudy(prepared, exec.slurm, progress);
    return;
  }
  const r = await interruptible('run the same command with --resume to go on where it stopped (finished runs are kept)', (signal) =>
    runStudy(cfg, progress, { signal, ...exec.local, folder: folderOptions(o) }),
  );
  if (!r) return;
  if (output.json) progress.event?.({ event: 'result', dir: r.dir, report: resolve(r.dir, 'report'), rows: r.records.length, seconds: r.seconds });
  else process.stdout.write(`${r.records.length} report row(s); tables and ROC figures in ${resolve(r.dir, 'report')} (${formatDuration(r.seconds)})\n`);
}

export function registerExperimentCommands(program: Command): void {
  resumeFlags(outputFlags(
    executorFlags(
      experimentOptions(
        program
          .command('experiment')
          .description('run protocols (1, 2, 3, 4, swft, lora-swft) for models, several runs each, resumable, with tables and ROC figures'),
      ),
    ),
  )).action(async (o: Record<string, unknown>) => {
    await runAndPrint(experimentStudy(o), o);
  });

  resumeFlags(outputFlags(
    executorFlags(
      studyOptions(
        program
          .command('reproduce')
          .description("run a whole study grid from a config file (configs/paper.json is the paper's); resumable")
          .requiredOption('--config <file>', 'study config JSON (configs/paper.json: the paper)'),
      ),
    ),
  )).action(async (o: Record<string, unknown>) => {
    // --config is a required option: commander refuses the command without it
    await runAndPrint(mergeStudy(readStudyConfig(readStudyFlags(o).config!), flagsToStudy(o)), o);
  });

  experimentOptions(
    program
      .command('plan')
      .description('prepare a study folder (study.json, splits) and write plan.json: every training unit with its command, dependencies and outputs'),
  ).action(async (o: Record<string, unknown>) => {
    const prepared = await prepareStudy(experimentStudy(o));
    const plan = writePlanFile(prepared);
    process.stdout.write(`${formatPlan(plan)}\n`);
  });

  program
    .command('report')
    .description('rebuild the tables (Markdown, CSV, JSON), statistics and ROC figures of a study folder from its finished runs')
    .argument('<dir>', 'study folder')
    .option('--html', 'also write report/index.html: every table, figure and run in one page that opens from disk', false)
    .action(async (dir: string, o: { html: boolean }) => {
      const study = readStudyFile(dir);
      const { records, missing } = collectRecords(dir, study);
      if (missing.length > 0)
        process.stderr.write(`${missing.length} planned run(s) have not finished and are left out (first: ${missing[0]!.dir}); run the study command again to finish them\n`);
      const files = await writeStudyReport(resolve(dir), study, records, { html: o.html });
      process.stdout.write(`${records.length} report row(s) -> ${files.join(', ')}\n`);
    });

  const weights = program.command('weights').description("torchvision's published ImageNet weight files");
  weights
    .command('list')
    .description('the file each model needs in --weights-dir, and where it is published')
    .action(() => {
      for (const [model, file] of Object.entries(imagenetWeightFiles())) process.stdout.write(`${model.padEnd(20)}${file.padEnd(36)}${WEIGHTS_BASE_URL}${file}\n`);
    });
  weights
    .command('fetch')
    .description('download the published ImageNet weights of models (checks the SHA-256 prefix in the file name)')
    .argument('<models...>', 'model names, or "all"')
    .option('--dir <dir>', 'folder to put them in', 'imagenet-weights')
    .action(async (models: string[], o: { dir: string }) => {
      const names = models.includes('all') ? Object.keys(imagenetWeightFiles()) : models;
      const progress = consoleProgress();
      for (const model of names) {
        const r = await fetchWeights(model, {
          dir: o.dir,
          onProgress: (bytes, total) => progress.status(`${model}: ${(bytes / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`),
        });
        progress.line(`${model}: ${r.downloaded ? 'downloaded and verified' : 'already there, verified'} ${r.path}`);
      }
    });
}
