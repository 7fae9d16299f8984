// `thtl-native evaluate` and `thtl-native predict`: a trained model on labelled data
// (metrics, calibration, figures) or on unlabelled images (probabilities). See
// lib/evaluate/ and docs/EVALUATION.md. Every usage problem is refused before any file is
// read or written.
import { Command, InvalidArgumentError, Option } from 'commander';

import { parseClassMap } from '../evaluate/classes.js';
import { evaluateModel, evaluateProblem, type EvaluateOptions } from '../evaluate/evaluate.js';
import { predictImages, predictProblem, type PredictOptions } from '../evaluate/predict.js';
import { TTA_MODES, type Tta } from '../evaluate/tta.js';
import { addTrainingFlags, list, positiveInt, readTrainingFlags } from './options.js';
import { conflict, UsageError } from './usage.js';

const classMap = (text: string): Record<string, string> => {
  try {
    return parseClassMap(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

/** The model flags of both commands: --run, or --checkpoint (or --weights) with --model/--classes. */
function modelFlags(cmd: Command): Command {
  return cmd
    .option('--run <dir>', 'run folder (its weights.safetensors, else best.ckpt, and config.json)')
    .option('--checkpoint <file>', 'weights (.safetensors/.pth) or checkpoint (.ckpt); model/classes from a config.json beside it, or --model/--classes')
    .option('--weights <file>', 'a weights file (.safetensors/.pth): the same as --checkpoint')
    .option('--model <name>', 'model name (with --checkpoint outside a run folder)')
    .option('--classes <list>', 'class names in label order (with --checkpoint outside a run folder)', list);
}

/** --batch-size (default the run's), --tta, --threads, --device, --cache-dir, --no-cache. */
function runFlags(cmd: Command): Command {
  cmd
    .option('--batch-size <n>', "batch size (default: the run's, else 32)", positiveInt('--batch-size'))
    .addOption(new Option('--tta <mode>', "test-time augmentation: 'flip' averages each image's probabilities with its horizontal mirror's").choices([...TTA_MODES]).default('none'));
  return addTrainingFlags(cmd, ['threads', 'device', 'cacheDir', 'noCache'], 'fill');
}

function settings(o: Record<string, unknown>) {
  const t = readTrainingFlags(o, ['threads', 'device', 'cacheDir', 'noCache']);
  return { ...(o.batchSize !== undefined ? { batchSize: o.batchSize as number } : {}), tta: o.tta as Tta, threads: t.threads, device: t.device, ...(t.cacheDir !== undefined ? { cacheDir: t.cacheDir } : {}), noCache: t.noCache === true };
}

const modelOf = (o: Record<string, unknown>) => ({
  ...(o.run !== undefined ? { run: o.run as string } : {}),
  ...(o.checkpoint !== undefined || o.weights !== undefined ? { checkpoint: (o.checkpoint ?? o.weights) as string } : {}),
  ...(o.model !== undefined ? { model: o.model as string } : {}),
  ...(o.classes !== undefined ? { classes: o.classes as string[] } : {}),
});

/** A problem of the options as a usage error, naming --weights where it stands for --checkpoint. */
function checkModelProblem(problem: string | null, o: Record<string, unknown>): void {
  if (o.weights !== undefined && o.checkpoint !== undefined) throw conflict('--weights', '--checkpoint', 'both name the model file; give one');
  if (problem) throw new UsageError(o.weights !== undefined ? problem.replaceAll('--checkpoint', '--weights') : problem);
}

export function registerEvaluateCommands(program: Command): void {
  const evaluate = modelFlags(program.command('evaluate').description('evaluate a trained model on labelled data: predictions.csv, metrics.json (calibration, bootstrap intervals), roc.svg, reliability.svg'))
    .option('--data <spec>', 'labelled dataset: ImageFolder, manifest CSV or JSON spec')
    .option('--split-file <file>', 'a split.json: evaluate its --split part')
    .addOption(new Option('--split <name>', 'the part of --split-file (default: test)').choices(['train', 'val', 'test']))
    .option('--class-map <pairs>', "the data's class names as the model's: old=new,...", classMap)
    .option('--force', 'replace an evaluation already in --out (moved to <out>.replaced-<time>)', false);
  runFlags(evaluate)
    .requiredOption('--out <dir>', 'folder for predictions.csv, metrics.json, roc.svg, reliability.svg')
    .action(async (o: Record<string, unknown>) => {
      const options: EvaluateOptions = {
        ...modelOf(o),
        ...(o.data !== undefined ? { data: o.data as string } : {}),
        ...(o.splitFile !== undefined ? { splitFile: o.splitFile as string } : {}),
        ...(o.split !== undefined ? { split: o.split as 'train' | 'val' | 'test' } : {}),
        ...(o.classMap !== undefined ? { classMap: o.classMap as Record<string, string> } : {}),
        out: o.out as string,
        force: o.force === true,
        ...settings(o),
      };
      checkModelProblem(evaluateProblem(options), o);
      const m = await evaluateModel(options);
      const ci = m.bootstrap.intervals;
      const fmt = (name: string, v: { estimate: number; lo: number; hi: number } | null) => (v ? `${name} ${v.estimate.toFixed(4)} [${v.lo.toFixed(4)}, ${v.hi.toFixed(4)}]` : null);
      process.stdout.write(
        `${[fmt('accuracy', ci.accuracy), fmt('macro F1', ci.macroF1), fmt('AUC', ci.auc)].filter(Boolean).join('; ')} (95% bootstrap by ${m.bootstrap.by}); ECE ${m.calibration.ece.toFixed(4)}\n`,
      );
    });

  const predict = modelFlags(program.command('predict').description("a trained model's class probabilities for unlabelled images, as a CSV"))
    .option('--images <paths...>', 'image files, or a folder (every JPEG/PNG under it, sorted)')
    .option('--cam', "also write each image's LayerCAM map for its predicted class (a PNG; the CSV's cam column)")
    .option('--cam-out <dir>', 'folder of the --cam maps (default: cam/ beside --out)')
    .option('--force', 'replace an existing --out file (and write over the maps in the --cam folder)', false);
  runFlags(predict)
    .requiredOption('--out <file>', 'the CSV: file, prob_<class> per class, predicted')
    .action(async (o: Record<string, unknown>) => {
      const options: PredictOptions = {
        ...modelOf(o),
        images: (o.images as string[] | undefined) ?? [],
        out: o.out as string,
        force: o.force === true,
        ...(o.cam === true ? { cam: true } : {}),
        ...(o.camOut !== undefined ? { camOut: o.camOut as string } : {}),
        ...settings(o),
      };
      checkModelProblem(predictProblem(options), o);
      await predictImages(options);
    });
}
