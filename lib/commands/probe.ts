// `thtl-native probe`: score candidate intermediate domains against the target before any
// training. See lib/probe/probe.ts.
import { Command } from 'commander';

import { findImagenetWeights } from '../models/index.js';
import { probeMarkdown, runProbe } from '../probe/probe.js';
import { consoleProgress } from '../util/progress.js';
import { addTrainingFlags, list, nonNegativeInt, positiveInt } from './options.js';
import { UsageError } from './usage.js';

export function registerProbeCommand(program: Command): void {
  const cmd = program
    .command('probe')
    .description('score candidate intermediate domains against the target before the study: Fréchet distance, MMD, cosine of mean features, intensity EMD, vessel geometry per class (Frangi: coherence, radial alignment, tortuosity), and LogME / 5-NN on the target after a short adaptation')
    .requiredOption('--target <spec>', 'target dataset (any dataset spec)')
    .requiredOption('--candidates <list>', 'candidate intermediate datasets, comma-separated', list)
    .requiredOption('--model <name>', 'backbone (see `thtl-native models`)')
    .option('--weights <file>', 'backbone weights (.pth as torchvision publishes, or .safetensors)')
    .option('--weights-dir <dir>', "folder with torchvision's published ImageNet .pth files (instead of --weights)")
    .option('--per-domain <n>', 'images sampled from each domain', positiveInt('--per-domain'), 200)
    .option('--seed <n>', 'seed of the samples and of the adaptations', nonNegativeInt('--seed'), 123)
    .option('--adapt-epochs <n>', 'epochs of the short fine-tuning (head + last group) on each candidate before LogME and 5-NN on the target; 0: skip', nonNegativeInt('--adapt-epochs'), 2);
  addTrainingFlags(cmd, ['inputSize', 'threads', 'device', 'cacheDir'], 'fill');
  cmd.requiredOption('--out <dir>', 'folder for probe.md, probe.csv, probe.json and probe.svg').action(async (o: Record<string, unknown>) => {
    const model = o.model as string;
    const weights = (o.weights as string | undefined) ?? (o.weightsDir ? findImagenetWeights(model, o.weightsDir as string) : undefined);
    if (!weights) throw new UsageError('probe needs the backbone\'s weights: --weights FILE, or --weights-dir DIR with the ImageNet file');
    const r = await runProbe(
      {
        target: o.target as string,
        candidates: o.candidates as string[],
        model,
        weights,
        perDomain: o.perDomain as number,
        ...(o.inputSize !== undefined ? { inputSize: o.inputSize as number } : {}),
        seed: o.seed as number,
        adaptEpochs: o.adaptEpochs as number,
        threads: o.threads as number,
        device: o.device as string,
        ...(o.cacheDir ? { cacheDir: o.cacheDir as string } : {}),
        out: o.out as string,
      },
      consoleProgress(),
    );
    process.stdout.write(`${probeMarkdown(r)}files: ${r.files.join(', ')}\n`);
  });
}
