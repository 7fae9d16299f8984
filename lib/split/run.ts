// The train/val/test assignment of one run: read from a split file (splitFile), taken
// from val/test folders (valDir, testDir), or made from `data` with a seeded (stratified
// or grouped) split. Every way is checked for images shared between parts (leaks.ts)
// before anything is decoded or written. Its errors name the options; the CLI names the flags.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';

import { loadDataset } from '../data/dataset.js';
import { readImageFolder } from '../data/imagefolder.js';
import type { TrainConfig } from '../train/config.js';
import { defaultRemainder, readSplitFile, toEntries, type SplitFile } from './file.js';
import { groupSplit } from './group.js';
import { checkClassSizes, checkNoLeaks } from './leaks.js';
import { stratifiedSplit } from './stratified.js';

/** The settings a split is made from. */
export type SplitSettings = Pick<TrainConfig, 'data' | 'splitFile' | 'valDir' | 'testDir' | 'split' | 'seed' | 'groupBy' | 'skipBadImages'> &
  Partial<Pick<TrainConfig, 'labelNormalize'>>;

const realFolder = (dir: string): string => {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
};

/** The train/val/test assignment of a run: from splitFile, valDir/testDir, or a seeded split of `data`. */
export async function buildSplit(cfg: SplitSettings): Promise<SplitFile> {
  const split = await makeSplit(cfg);
  checkNoLeaks(split);
  return split;
}

async function makeSplit(cfg: SplitSettings): Promise<SplitFile> {
  if (cfg.splitFile) return readSplitFile(cfg.splitFile);
  const normalize = cfg.labelNormalize ?? false;
  const data = await loadDataset(cfg.data, { skipBad: cfg.skipBadImages, labelNormalize: normalize });
  const base = { version: 1 as const, dataset: cfg.data, seed: cfg.seed, classes: data.classes, ...(data.ordinal ? { ordinal: true } : {}), skipped: data.skipped };
  if (cfg.valDir || cfg.testDir) {
    if (!cfg.valDir || !cfg.testDir) throw new Error('valDir and testDir must be given together');
    if (realFolder(cfg.valDir) === realFolder(cfg.testDir))
      throw new Error(`the validation and test folders are the same (${cfg.valDir}); a test set must not share images with training or validation`);
    const val = readImageFolder(cfg.valDir, data.classes, normalize);
    const test = readImageFolder(cfg.testDir, data.classes, normalize);
    return { ...base, ratios: [], remainder: 'train', groupBy: null, train: toEntries(data.items), val: val.items, test: test.items };
  }
  if (cfg.split.length !== 3 && cfg.split.length !== 2)
    throw new Error(`split needs two (train,val) or three (train,val,test) ratios, got ${cfg.split.join(',')}`);
  checkClassSizes(data.items, data.classes, cfg.split.length);
  const options = { ratios: cfg.split, seed: cfg.seed };
  const grouped = cfg.groupBy === 'patient' ? groupSplit(data.items, options) : null;
  const parts = grouped ?? stratifiedSplit(data.items, options);
  for (const name of cfg.split.length === 3 ? (['train', 'val', 'test'] as const) : (['train', 'val'] as const))
    if (parts[name].length === 0) throw new Error(`the ${name} split of ${cfg.data} is empty: add images or change the split ratios`);
  return {
    ...base,
    ratios: cfg.split,
    remainder: defaultRemainder(cfg.split),
    groupBy: cfg.groupBy ?? null,
    train: toEntries(parts.train),
    val: toEntries(parts.val),
    test: toEntries(parts.test),
    ...(grouped ? { achieved: grouped.achieved } : {}),
  };
}
