// A small study for end-to-end tests: synthetic target and intermediate domains, resnet18
// weights made here standing in for ImageNet's, and a study config JSON using them.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { native } from '../../binding/index.js';
import { writeSynthDataset } from '../../lib/synth/write.js';
import { tempDir } from './images.js';

export interface TestStudy {
  /** folder with target/, intermediate/ and init.safetensors */
  data: string;
  /** the study config file */
  config: string;
}

export interface TestStudyOptions {
  name: string;
  experiments: { protocols: string[]; models: string[]; steps?: number[] }[];
  /** images per domain */
  images: number;
  runs: number;
  /** k-fold cross-validation of the target (then runs must equal folds) */
  folds?: number;
  epochs: number;
}

export async function makeTestStudy(prefix: string, o: TestStudyOptions): Promise<TestStudy> {
  const data = tempDir(prefix);
  writeSynthDataset({ domain: 'target', n: o.images, size: 40, seed: 5, out: join(data, 'target') });
  writeSynthDataset({ domain: 'intermediate', n: o.images, size: 40, seed: 5, out: join(data, 'intermediate') });
  const session = await native().Session.create({ model: 'resnet18', numClasses: 3, device: 'cpu', seed: 9 });
  await session.saveWeights(join(data, 'init.safetensors'));
  await session.dispose();
  const config = join(data, 'study.json');
  writeFileSync(
    config,
    JSON.stringify({
      name: o.name,
      experiments: o.experiments,
      target: join(data, 'target'),
      intermediate: join(data, 'intermediate'),
      initialWeights: { resnet18: join(data, 'init.safetensors') },
      runs: o.runs,
      ...(o.folds !== undefined ? { folds: o.folds } : {}),
      seed: 11,
      recipe: { epochs: o.epochs, patience: 5, batchSize: 8, inputSize: 32, device: 'cpu', threads: 1 },
    }),
  );
  return { data, config };
}

/**
 * A study's report files as text, with the one measurement that differs between two runs
 * of the same study taken out: the seconds per epoch (Table 5's last column in tables.md
 * and table5.csv, `avg_epoch_seconds` in tables.json). Figures are compared as bytes.
 */
export function reportWithoutTimes(studyDir: string): Record<string, string> {
  const dir = join(studyDir, 'report');
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const bytes = readFileSync(join(dir, name));
    if (name === 'tables.json') out[name] = JSON.stringify(JSON.parse(bytes.toString('utf8'), (k, v: unknown) => (k === 'avg_epoch_seconds' ? undefined : v)));
    else if (name === 'table5.csv') {
      const rows = bytes.toString('utf8').split('\n').map((l) => l.split(','));
      const keep = rows[0]!.map((h, i) => (h.startsWith('avg_epoch_seconds') ? -1 : i)).filter((i) => i >= 0);
      out[name] = rows.map((r) => keep.map((i) => r[i]).join(',')).join('\n');
    } else if (name === 'tables.md') {
      let inTable5 = false;
      out[name] = bytes
        .toString('utf8')
        .split('\n')
        .map((l) => {
          if (l.startsWith('## ')) inTable5 = l.startsWith('## Table 5');
          return inTable5 && l.startsWith('|') ? l.replace(/\|[^|]*\|\s*$/, '| (time) |') : l;
        })
        .join('\n');
    } else out[name] = bytes.toString('base64');
  }
  return out;
}

/** Four units on two dependency levels: protocol 2 and the + model, then ++ and SWFT step 2 (resnet18, one run). */
export const FOUR_UNIT_STUDY: Omit<TestStudyOptions, 'name'> = {
  experiments: [{ protocols: ['2', '4', 'swft'], models: ['resnet18'], steps: [2] }],
  images: 30,
  runs: 1,
  epochs: 3,
};
