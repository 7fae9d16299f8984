// From a planned unit to the TrainConfig the runner takes, and the up-front check that
// every unit's inputs (datasets, ImageNet weight files) exist before hours of training.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/config.js';
import type { Unit } from './plan.js';
import type { StudySplits } from '../split/index.js';
import { RECIPE_OPTIONS, type Recipe, type RecipeOption, type StudyConfig } from './study-config.js';
import { findImagenetWeights } from '../models/index.js';

/** Where a model's initial weights come from: a given file, else torchvision's file in weightsDir. */
type WeightSources = Pick<StudyConfig, 'initialWeights' | 'weightsDir'>;

/** The study settings a unit's TrainConfig is built from. */
export type UnitSettings = WeightSources &
  Pick<StudyConfig, 'out' | 'recipe' | 'target' | 'intermediate' | 'targetSplit' | 'intermediateSplit' | 'lora'>;

/** The study settings checkStudy looks at. */
export type StudyInputs = WeightSources & Pick<StudyConfig, 'target' | 'intermediate'>;

function initialWeights(sources: WeightSources, model: string): string {
  const given = sources.initialWeights?.[model];
  if (given) return resolve(given);
  if (!sources.weightsDir) throw new Error(`${model} needs ImageNet weights: give --weights-dir (a folder with torchvision's published .pth files)`);
  return findImagenetWeights(model, sources.weightsDir);
}

function lrOf(recipe: Pick<Recipe, 'lr'>, model: string): number | undefined {
  if (typeof recipe.lr === 'number') return recipe.lr;
  return recipe.lr?.[model];
}

/** The split file of target fold k (1-based). */
function foldSplit(splitFiles: StudySplits, k: number): string {
  const file = splitFiles.folds?.[k - 1];
  if (!file) throw new Error(`the study's splits have no fold ${k} (${splitFiles.folds ? `${splitFiles.folds.length} folds` : 'no folds'})`);
  return file;
}

/** The TrainConfig of a unit inside the study folder. */
export function unitConfig(cfg: UnitSettings, unit: Unit, splitFiles: StudySplits): TrainConfig {
  const out = resolve(cfg.out);
  const r = cfg.recipe;
  const weights = unit.init === 'imagenet' ? initialWeights(cfg, unit.model) : unit.init === 'plus' ? join(out, unit.after!, 'weights.safetensors') : undefined;
  const splitFile = unit.domain === 'intermediate' ? splitFiles.intermediate! : unit.fold !== undefined ? foldSplit(splitFiles, unit.fold) : splitFiles.target;
  const lr = lrOf(r, unit.model);
  return {
    ...DEFAULT_TRAIN_CONFIG,
    model: unit.model,
    data: unit.domain === 'target' ? cfg.target : cfg.intermediate!,
    splitFile,
    split: unit.domain === 'target' ? cfg.targetSplit : cfg.intermediateSplit,
    ...(lr !== undefined ? { lr } : {}),
    ...recipeFields(r),
    ...(unit.trainable !== 'all' && !unit.lora ? { trainableGroups: unit.trainable } : {}),
    ...(unit.lora ? { lora: { groups: unit.lora, rank: cfg.lora.rank, alpha: cfg.lora.alpha } } : {}),
    ...(weights ? { weights } : {}),
    seed: unit.seed,
    out: join(out, unit.dir),
    ...(r.cacheDir ? { cacheDir: r.cacheDir } : {}),
    ...(r.noCache ? { noCache: true } : {}),
    resume: true,
    keepCheckpoint: false,
  };
}

/** The recipe options a unit takes as they are, those that are set (lr is per model; the decode cache only when given). */
function recipeFields(r: Recipe): Partial<TrainConfig> {
  const out: Partial<Record<RecipeOption, unknown>> = {};
  for (const name of RECIPE_OPTIONS) if (name !== 'lr' && name !== 'cacheDir' && name !== 'noCache' && r[name] !== undefined) out[name] = r[name];
  return out as Partial<TrainConfig>;
}

/** Throws, before anything runs, when a dataset or an ImageNet weight file the units need is missing. */
export function checkStudy(cfg: StudyInputs, units: readonly Unit[]): void {
  if (!cfg.target) throw new Error('the study needs a target dataset (--target)');
  if (!existsSync(cfg.target)) throw new Error(`target dataset ${cfg.target} does not exist`);
  if (cfg.intermediate && !existsSync(cfg.intermediate)) throw new Error(`intermediate dataset ${cfg.intermediate} does not exist`);
  if (units.some((u) => u.domain === 'intermediate') && !cfg.intermediate)
    throw new Error('protocols 4, swft and lora-swft need an intermediate dataset (--intermediate)');
  // every ImageNet weight file up front, so a missing one is reported before hours of training
  const missing: string[] = [];
  for (const model of new Set(units.filter((u) => u.init === 'imagenet').map((u) => u.model))) {
    try {
      initialWeights(cfg, model);
    } catch (err) {
      missing.push((err as Error).message);
    }
  }
  if (missing.length > 0) throw new Error(missing.join('\n'));
}
