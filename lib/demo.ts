// `thtl-native demo`: synthetic vessel images -> resnet18 at a small input size on CPU
// -> test metrics. Deterministic for a seed; a few minutes on 2 cores.
import { join, resolve } from 'node:path';

import { writeVesselDataset } from './synth/write.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './train/config.js';
import { trainRun, type RunResult } from './train/runner.js';
import { consoleProgress, type ProgressSink } from './progress.js';

export interface DemoOptions {
  out: string;
  perClass: number;
  imageSize: number;
  inputSize: number;
  epochs: number;
  seed: number;
  threads: number;
  device: string;
}

export const DEFAULT_DEMO: DemoOptions = {
  out: 'runs/demo',
  perClass: 200,
  imageSize: 96,
  inputSize: 64,
  epochs: 15,
  seed: 123,
  threads: 0,
  device: 'cpu',
};

export async function runDemo(opts: DemoOptions, progress: ProgressSink = consoleProgress()): Promise<RunResult> {
  const out = resolve(opts.out);
  const data = join(out, 'data');
  const t0 = Date.now();
  const written = writeVesselDataset({ out: data, perClass: opts.perClass, size: opts.imageSize, seed: opts.seed });
  progress.line(`synthetic vessels: ${written.files} images (${written.classes.join(', ')}) in ${data} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    model: 'resnet18',
    data,
    out: join(out, 'run'),
    epochs: opts.epochs,
    inputSize: opts.inputSize,
    seed: opts.seed,
    threads: opts.threads,
    device: opts.device,
  };
  return trainRun(cfg, progress);
}
