// The study's splits: made once with the base seed and shared by every run (split.json
// files in <out>/splits/); a folder whose splits were made otherwise is refused.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { ProgressSink } from '../util/progress.js';
import type { Recipe, StudyConfig } from '../experiment/study-config.js';
import { readSplitFile, writeSplitFile, type SplitFile } from './file.js';
import { buildSplit } from './run.js';

/** The study settings the splits are made from. */
export type StudySplitSettings = Pick<StudyConfig, 'out' | 'seed' | 'target' | 'intermediate' | 'targetSplit' | 'intermediateSplit' | 'groupBy'> & {
  recipe: Pick<Recipe, 'skipBadImages'>;
};

/** The split.json files of a study, one per domain. */
export interface StudySplits {
  target: string;
  intermediate?: string;
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
  const made = [await make('target', cfg.target, cfg.targetSplit)];
  if (needIntermediate) made.push(await make('intermediate', cfg.intermediate!, cfg.intermediateSplit));
  for (const [i, { path, split }] of made.entries()) {
    if (!split) continue;
    writeSplitFile(path, split);
    progress.line(`${i === 0 ? 'target' : 'intermediate'} split (seed ${cfg.seed}): train ${split.train.length} / val ${split.val.length} / test ${split.test.length} -> ${path}`);
  }
  return needIntermediate ? { target: made[0]!.path, intermediate: made[1]!.path } : { target: made[0]!.path };
}
