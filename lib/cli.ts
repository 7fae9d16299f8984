// The `thtl-native` command line.
import { join } from 'node:path';
import { Command, Option } from 'commander';

import { native } from '../binding/index.js';
import { addTrainingFlags, positiveInt, ratios } from './commands/options.js';
import { registerCamCommand } from './commands/cam.js';
import { registerDataCommands } from './commands/data.js';
import { registerExperimentCommands } from './commands/experiment.js';
import { registerProbeCommand } from './commands/probe.js';
import { registerScaleCommands } from './commands/scale.js';
import { registerSynthCommand } from './commands/synth.js';
import { DEFAULT_DEMO, DEMO_MODEL, runDemo, type DemoOptions } from './commands/demo.js';
import { parseProtocols } from './experiment/protocols.js';
import { interruptible } from './util/interrupt.js';
import { consoleProgress, formatDuration } from './util/progress.js';
import { doctor } from './commands/doctor.js';
import { installAddon } from './install/addon.js';
import { packageRoot } from '../binding/locate.js';
import { formatReport } from './report/metrics-table.js';
import { DEFAULT_TRAIN_CONFIG, PRECISIONS, type Precision, type TrainConfig } from './train/config.js';
import { trainRun, type RunResult } from './train/runner.js';
import type { Monitor } from './train/early-stopping.js';

function printResult(r: RunResult): void {
  if (r.test) process.stdout.write(`${formatReport(r.test)}\n`);
  process.stdout.write(
    `epochs run ${r.epochsRun}, best epoch ${r.bestEpoch}, ${r.avgEpochSeconds.toFixed(1)} s/epoch\nrun folder: ${r.dir}\n`,
  );
}

/** tables.md without its per-table details blocks (mean ± std [interval]), for the terminal. */
function mainTables(md: string): string {
  const out: string[] = [];
  let skip = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('Details:')) skip = true;
    else if (line.startsWith('## ')) skip = false;
    if (!skip) out.push(line);
  }
  return out.join('\n');
}

export function buildCli(): Command {
  const program = new Command('thtl-native')
    .description('Two-step heterogeneous transfer learning on LibTorch: train, evaluate and explain image classifiers')
    .showHelpAfterError();

  const d = DEFAULT_TRAIN_CONFIG;
  const train = program
    .command('train')
    .description('train one model on an image folder and write a run folder with test metrics')
    .requiredOption('--model <name>', 'model name (see `thtl-native models`)')
    .option('--data <spec>', 'dataset: ImageFolder folder, manifest/DR CSV or JSON spec (docs/DATASETS.md)')
    .option('--split-file <file>', 'reuse a split.json (from a run or `thtl-native data split`) instead of splitting --data')
    .addOption(new Option('--group-by <key>', 'keep every patient in one split').choices(['patient']))
    .option('--split <ratios>', 'train,val[,test] ratios, stratified per class', ratios('--split'), d.split)
    .option('--val <dir>', 'validation ImageFolder (with --test: use --data whole for training)')
    .option('--test <dir>', 'test ImageFolder')
    .option('--head-only', 'train only the replaced classification head', false)
    .option('--weights <file>', 'initial weights (.pth as torchvision publishes, or .safetensors)');
  addTrainingFlags(train, ['epochs', 'batchSize', 'lr', 'inputSize', 'frozenBn', 'device', 'precision', 'channelsLast', 'threads', 'seed', 'patience', 'minDelta', 'monitor', 'skipBadImages', 'cacheDir'], 'fill');
  train
    .option('--no-cache', 'decode into memory for this run, without the disk cache')
    .option('--resume', 'continue the run folder: a finished run is kept, an interrupted one goes on from its last epoch', false)
    .requiredOption('--out <dir>', 'run folder to write')
    .action(async (o: Record<string, unknown>) => {
      if (!o.data && !o.splitFile) throw new Error('give --data (a dataset) or --split-file (a saved split)');
      const cfg: TrainConfig = {
        ...d,
        model: o.model as string,
        data: (o.data as string | undefined) ?? (o.splitFile as string),
        splitFile: o.splitFile as string | undefined,
        groupBy: o.groupBy as 'patient' | undefined,
        split: o.split as number[],
        valDir: o.val as string | undefined,
        testDir: o.test as string | undefined,
        epochs: o.epochs as number,
        batchSize: o.batchSize as number,
        lr: o.lr as number | undefined,
        inputSize: o.inputSize as number | undefined,
        headOnly: o.headOnly as boolean,
        frozenBn: o.frozenBn as 'train' | 'eval',
        weights: o.weights as string | undefined,
        device: o.device as string,
        precision: o.precision as Precision,
        channelsLast: o.channelsLast as boolean,
        threads: o.threads as number,
        seed: o.seed as number,
        patience: o.patience as number,
        minDelta: o.minDelta as number,
        monitor: o.monitor as Monitor,
        skipBadImages: o.skipBadImages as boolean,
        cacheDir: o.cacheDir as string | undefined,
        noCache: o.cache === false,
        out: o.out as string,
        resume: o.resume as boolean,
      };
      const r = await interruptible(`run the same command with --resume to go on from the last finished epoch of ${cfg.out}`, (signal) =>
        trainRun(cfg, consoleProgress(), { signal }),
      );
      if (r) printResult(r);
    });

  const demo = program
    .command('demo')
    .description(`the whole study on synthetic domains: pretrain ${DEMO_MODEL} on a synthetic source, run protocols 1-4, SWFT and LoRA-SWFT, write tables and ROC figures`)
    .option('--out <dir>', 'output folder (data/, source-model/, study/ inside)', DEFAULT_DEMO.out)
    .option('--source <n>', 'synthetic source images (12 classes)', positiveInt('--source'), DEFAULT_DEMO.source)
    .option('--intermediate <n>', 'synthetic intermediate images (5 classes)', positiveInt('--intermediate'), DEFAULT_DEMO.intermediate)
    .option('--target <n>', 'synthetic target images (2 classes)', positiveInt('--target'), DEFAULT_DEMO.target)
    .option('--protocols <list>', 'protocols to run', (v: string) => parseProtocols(v), DEFAULT_DEMO.protocols)
    .option('--image-size <px>', 'size of the generated images', positiveInt('--image-size'), DEFAULT_DEMO.imageSize)
    .option('--workers <n>', 'study units run at once, in child processes (the local executor)', positiveInt('--workers'))
    .option('--gpus <list>', 'GPU ids: study units run at once, one per GPU', (v: string) => v.split(',').map((g) => g.trim()).filter(Boolean));
  addTrainingFlags(demo, ['inputSize', 'epochs', 'patience', 'seed', 'threads', 'device'], 'fill', {
    inputSize: { default: DEFAULT_DEMO.inputSize },
    epochs: { default: DEFAULT_DEMO.epochs },
    patience: { default: DEFAULT_DEMO.patience },
    seed: { default: DEFAULT_DEMO.seed },
    threads: { default: DEFAULT_DEMO.threads },
    device: { default: DEFAULT_DEMO.device },
  });
  demo
    .action(async (o: Partial<DemoOptions>) => {
      const r = await interruptible('run the same command again to go on where it stopped', (signal) => runDemo({ ...DEFAULT_DEMO, ...o }, consoleProgress(), { signal }));
      if (!r) return;
      process.stdout.write(`${mainTables(r.tablesMarkdown)}\n${r.comparisonsMarkdown.replace(/^# /, '## ')}\nreport (with std and 95% intervals): ${join(r.dir, 'report')}\nHTML report: ${r.html}\n`);
      if (r.cam) process.stdout.write(`LayerCAM figures: ${r.cam}\n`);
      process.stdout.write(`demo finished in ${formatDuration(r.seconds)}\n`);
    });

  program
    .command('models')
    .description('list the models in the registry with their input size, learning rate and groups')
    .action(() => {
      const rows = native().models();
      process.stdout.write(`${'model'.padEnd(20)}${'input'.padStart(6)}${'lr'.padStart(8)}${'params'.padStart(14)}  groups (head first)\n`);
      for (const m of rows)
        process.stdout.write(
          `${m.name.padEnd(20)}${String(m.inputSize).padStart(6)}${String(m.defaultLr).padStart(8)}${m.params.toLocaleString('en-US').padStart(14)}  ${m.groups.map((g) => g.name).join(', ')}\n`,
        );
    });

  registerExperimentCommands(program);
  registerScaleCommands(program);
  registerProbeCommand(program);
  registerCamCommand(program);
  registerDataCommands(program);
  registerSynthCommand(program);

  program
    .command('doctor')
    .description('check LibTorch, CUDA, BLAS and threads, and explain what is missing')
    .action(() => {
      const r = doctor();
      process.stdout.write(`${r.lines.join('\n')}\n`);
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('build')
    .description('get a native addon for the LibTorch found (prebuilt binary when it fits, else a cmake-js build), as the install step does')
    .option('--from-source', 'always build from source', false)
    .option('--clean', 'drop the object files afterwards, keeping only the addon', false)
    .action(async (o: { fromSource: boolean; clean: boolean }) => {
      const r = await installAddon({ root: packageRoot(), fromSource: o.fromSource, clean: o.clean });
      process.stdout.write(`${r.method === 'prebuild' ? 'prebuilt binary' : 'built'}: ${r.addon}\n`);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`thtl-native: ${(err instanceof Error ? err.message : String(err)).replace(/^thtl-native: /, '')}\n`);
    process.exitCode = 1;
  }
}
