// The study's splits: made once with the base seed and shared by every run (split.json
// files in <out>/splits/); a folder whose splits were made otherwise is refused. A study
// with folds gets the target's fold assignment instead (splits/folds.json) and one split
// file per fold (splits/fold-k.json: test = fold k, validation = targetSplit's val share
// of train + val, taken from the other folds).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { ProgressSink } from '../util/progress.js';
import type { Recipe, StudyConfig } from '../experiment/study-config.js';
import { loadDataset } from '../data/dataset.js';
import { readSplitFile, writeSplitFile, writeSplitFileIfChanged, type SplitFile } from './file.js';
import { describeFolds, foldsDifferences, foldValRatio, kfoldAssign, kfoldSplits, readFoldsFile, writeFoldsFile, type KFoldAssignment } from './kfold.js';
import { checkNoLeaks } from './leaks.js';
import { buildSplit } from './run.js';

/** The study settings the splits are made from. */
export type StudySplitSettings = Pick<StudyConfig, 'out' | 'seed' | 'target' | 'intermediate' | 'targetSplit' | 'intermediateSplit' | 'groupBy' | 'folds'> & {
  recipe: Pick<Recipe, 'skipBadImages'>;
};

/** The split.json files of a study, one per domain. */
export interface StudySplits {
  /** the target's split file; with folds, its folds.json */
  target: string;
  intermediate?: string;
  /** with folds: the split file of fold k at k - 1 */
  folds?: string[];
}

/** The target's folds: folds.json (made, or read and checked against the settings) and each fold's split, nothing written. */
async function makeFolds(cfg: StudySplitSettings, out: string): Promise<{ foldsPath: string; assign: KFoldAssignment | null; splits: { path: string; split: SplitFile }[] }> {
  const K = cfg.folds!;
  const foldsPath = join(out, 'splits', 'folds.json');
  const data = await loadDataset(cfg.target, { skipBad: cfg.recipe.skipBadImages });
  const assign = kfoldAssign(data.items, { folds: K, seed: cfg.seed, groupBy: cfg.groupBy ?? null, classes: data.classes, dataset: cfg.target });
  if (existsSync(foldsPath)) {
    const diff = foldsDifferences(readFoldsFile(foldsPath, { classes: data.classes }), assign);
    if (diff.length > 0) throw new Error(`${foldsPath} was made with other settings: ${diff.join('; ')}; use another --out`);
  }
  const splits = Array.from({ length: K }, (_, k) => {
    const split = kfoldSplits(assign, k, { valRatio: foldValRatio(cfg.targetSplit), seed: cfg.seed, ordinal: data.ordinal });
    checkNoLeaks(split);
    return { path: join(out, 'splits', `fold-${k + 1}.json`), split };
  });
  return { foldsPath, assign: existsSync(foldsPath) ? null : assign, splits };
}

/**
 * The study's splits, made once with the base seed and shared by every run (split.json
 * files in splits/). Every split is made (and checked: classes, leaks) before any is
 * written, so a refused dataset leaves the study folder as it was.
 */
export async function studySplits(cfg: StudySplitSettings, needIntermediate: boolean, progress: ProgressSink): Promise<StudySplits> {
  const out = resolve(cfg.out);
  const make = async (name: 'target' | 'intermediate', data: string, ratios: number[]): Promise<{ path: string; split: SplitFile | null }> => {
    const path = join(out, 'splits', `${name}.json`);
    if (existsSync(path)) {
      const before = readSplitFile(path);
      const same = before.seed === cfg.seed && before.ratios.join() === ratios.join() && before.dataset === data &&
        (before.groupBy ?? null) === (name === 'target' ? (cfg.groupBy ?? null) : null);
      if (!same)
        throw new Error(
          `${path} was made from ${before.dataset} with ratios ${before.ratios.join(',')}, seed ${before.seed}` +
            `${before.groupBy ? `, grouped by ${before.groupBy}` : ''}; this study asks for ${data} with ${ratios.join(',')}, seed ${cfg.seed}: use another --out`,
        );
      return { path, split: null };
    }
    const split = await buildSplit({
      data, split: ratios, seed: cfg.seed, skipBadImages: cfg.recipe.skipBadImages,
      ...(name === 'target' && cfg.groupBy ? { groupBy: cfg.groupBy } : {}),
    });
    return { path, split };
  };
  const folds = cfg.folds !== undefined ? await makeFolds(cfg, out) : null;
  const made = folds ? [] : [await make('target', cfg.target, cfg.targetSplit)];
  const intermediate = needIntermediate ? await make('intermediate', cfg.intermediate!, cfg.intermediateSplit) : null;
  if (folds) {
    if (folds.assign) {
      writeFoldsFile(folds.foldsPath, folds.assign);
      const a = folds.assign;
      progress.line(
        `target folds (seed ${cfg.seed}${a.groupBy ? ', grouped by patient' : ''}): ` +
          `${describeFolds(a)} -> ${folds.foldsPath}`,
      );
    }
    // each fold's split follows from folds.json; rewritten only when its bytes would change
    for (const { path, split } of folds.splits) writeSplitFileIfChanged(path, split);
  }
  if (intermediate) made.push(intermediate);
  for (const { path, split } of made) {
    if (!split) continue;
    writeSplitFile(path, split);
    progress.line(`${path.endsWith('target.json') ? 'target' : 'intermediate'} split (seed ${cfg.seed}): train ${split.train.length} / val ${split.val.length} / test ${split.test.length} -> ${path}`);
  }
  const target = folds ? { target: folds.foldsPath, folds: folds.splits.map((f) => f.path) } : { target: made[0]!.path };
  return { ...target, ...(intermediate ? { intermediate: intermediate.path } : {}) };
}
