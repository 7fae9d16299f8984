// TRAIN_OPTIONS (lib/train/config.ts) declares each training option once; the defaults, the
// study recipe and a run's resume identity read from it must stay what run folders and
// study folders already hold (key order included: identities are compared as JSON text).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { ModelInfo } from '../../binding/models.js';
import { resolveInputSize } from '../../lib/models/index.js';
import { buildSplit } from '../../lib/split/run.js';
import { writePng } from '../helpers/png.js';
import { DEFAULT_RECIPE } from '../../lib/experiment/study-config.js';
import { checkTrainConfig, DEFAULT_TRAIN_CONFIG, RESUME_FREE_OPTIONS, trainIdentity, type TrainConfig } from '../../lib/train/config.js';

const cfg: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, model: 'resnet18', data: 'd', out: 'o' };

describe('training options', () => {
  it('defaults are the paper recipe, in the order config.json keeps them', () => {
    expect(JSON.stringify(DEFAULT_TRAIN_CONFIG)).toBe(
      JSON.stringify({
        split: [0.7, 0.2, 0.1], epochs: 70, batchSize: 32, headOnly: false, frozenBn: 'train', device: 'auto', precision: 'fp32',
        channelsLast: false, threads: 0, seed: 123, patience: 10, minDelta: 0, monitor: 'val_loss', stepSize: 5, gamma: 0.5,
        skipBadImages: false, labelNormalize: false, keepCheckpoint: true,
      }),
    );
    expect(JSON.stringify(DEFAULT_RECIPE)).toBe(
      JSON.stringify({
        epochs: 70, batchSize: 32, patience: 10, minDelta: 0, monitor: 'val_loss', stepSize: 5, gamma: 0.5, frozenBn: 'train',
        precision: 'fp32', channelsLast: false, device: 'auto', threads: 0, skipBadImages: false,
      }),
    );
  });

  it('the resume identity keeps its keys and order; precision and channelsLast only when set', () => {
    const base = {
      model: 'resnet18', weights: null, epochs: 70, batchSize: 32, lr: 0.001, inputSize: 224, headOnly: false, trainableGroups: null,
      lora: null, frozenBn: 'train', seed: 123, patience: 10, minDelta: 0, monitor: 'val_loss', stepSize: 5, gamma: 0.5,
    };
    expect(JSON.stringify(trainIdentity(cfg, { lr: 0.001, inputSize: 224 }))).toBe(JSON.stringify(base));
    const set = trainIdentity({ ...cfg, precision: 'bf16', channelsLast: true, weights: 'w.pth' }, { lr: 0.001, inputSize: 224 });
    expect(JSON.stringify(set)).toBe(JSON.stringify({ ...base, weights: 'w.pth', precision: 'bf16', channelsLast: true }));
  });

  it('a resume may change only where and how a run goes, never its identity', () => {
    expect(RESUME_FREE_OPTIONS).toEqual(['device', 'threads', 'cacheDir', 'noCache', 'out', 'resume']);
    const id = Object.keys(trainIdentity({ ...cfg, precision: 'bf16', channelsLast: true, labelNormalize: true }, { lr: 0.001, inputSize: 224 }));
    expect(RESUME_FREE_OPTIONS.filter((name) => id.includes(name))).toEqual([]);
  });

  it('the library names the option, not a flag', () => {
    expect(() => checkTrainConfig({ ...cfg, epochs: 0 })).toThrow(/^epochs must be a positive integer, got 0$/);
    expect(() => checkTrainConfig({ ...cfg, batchSize: 1.5 })).toThrow(/^batchSize must be a positive integer, got 1.5$/);
    expect(() => checkTrainConfig({ ...cfg, monitor: 'loss' as 'val_loss' })).toThrow(/^monitor must be one of val_loss, val_accuracy, got 'loss'$/);
    expect(() => checkTrainConfig({ ...cfg, inputSize: 16 })).toThrow(/^inputSize must be an integer >= 32, got 16$/);
    expect(() => checkTrainConfig(cfg)).not.toThrow();
    const info = { name: 'm', inputSize: 224, fixedInputSize: false } as ModelInfo;
    expect(() => resolveInputSize(info, 16)).toThrow(/^inputSize must be an integer >= 32, got 16$/);
    expect(resolveInputSize(info, 64)).toBe(64);
  });

  it('buildSplit names the options, not flags', async () => {
    const data = mkdtempSync(join(tmpdir(), 'thtl-options-'));
    for (const c of ['a', 'b']) {
      mkdirSync(join(data, c));
      writePng(join(data, c, '1.png'));
    }
    const split = { ...DEFAULT_TRAIN_CONFIG, data };
    await expect(buildSplit({ ...split, valDir: data })).rejects.toThrow(/^valDir and testDir must be given together$/);
    await expect(buildSplit({ ...split, split: [1] })).rejects.toThrow(/^split needs two \(train,val\) or three \(train,val,test\) ratios, got 1$/);
  });
});
