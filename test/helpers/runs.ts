// A small training run for tests that need a run folder: resnet18 at 32 px on 32 images.
import { join } from 'node:path';

import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../../lib/train/config.js';
import { tempDir, vesselFolder } from './images.js';

export function tinyRun(name: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    model: 'resnet18',
    data: vesselFolder(16, 48),
    out: join(tempDir(name), 'run'),
    epochs: 3,
    batchSize: 4,
    inputSize: 32,
    noCache: true,
    device: 'cpu',
    patience: 10,
    ...overrides,
  };
}
