// Study config files (`thtl-native reproduce --config FILE`, `experiment --config FILE`):
// JSON with the fields of StudyConfig; anything not given takes the paper's recipe.
// Unknown keys are errors, so a typo never silently falls back to a default.
import { existsSync, readFileSync } from 'node:fs';

import { checkOptions } from '../train/config.js';

import { parseProtocols } from './protocols.js';
import { DEFAULT_STUDY, RECIPE_OPTIONS, type ExperimentSet, type Recipe, type StudyConfig } from './study-config.js';

const STUDY_KEYS = ['name', 'experiments', 'target', 'intermediate', 'weightsDir', 'initialWeights', 'runs', 'folds', 'seed', 'targetSplit', 'intermediateSplit', 'groupBy', 'lora', 'recipe', 'out'];
const RECIPE_KEYS: string[] = [...RECIPE_OPTIONS];
const SET_KEYS = ['protocols', 'models', 'steps'];

function checkKeys(obj: Record<string, unknown>, allowed: string[], where: string): void {
  const bad = Object.keys(obj).filter((k) => !allowed.includes(k) && !k.startsWith('//'));
  if (bad.length > 0) throw new Error(`${where}: unknown key(s) ${bad.map((k) => `'${k}'`).join(', ')} (allowed: ${allowed.join(', ')})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type PartialStudy = Partial<Omit<StudyConfig, 'recipe'>> & { recipe?: Partial<Recipe> };

/** Reads and checks a study config file; keys starting with // are comments. */
export function readStudyConfig(path: string): PartialStudy {
  if (!existsSync(path)) throw new Error(`config file ${path} does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new Error(`config file ${path} must hold a JSON object`);
  checkKeys(raw, STUDY_KEYS, path);
  if (raw.recipe !== undefined) {
    if (!isObject(raw.recipe)) throw new Error(`${path}: 'recipe' must be an object`);
    checkKeys(raw.recipe, RECIPE_KEYS, `${path} recipe`);
    // a bad value names the file and its key, before any flag is merged in
    checkRecipe(raw.recipe as Partial<Recipe>, `${path}: recipe.`);
  }
  if (raw.experiments !== undefined) {
    if (!Array.isArray(raw.experiments)) throw new Error(`${path}: 'experiments' must be a list of {protocols, models, steps?}`);
    raw.experiments = raw.experiments.map((e: unknown, i: number): ExperimentSet => {
      if (!isObject(e)) throw new Error(`${path}: experiments[${i}] must be an object`);
      checkKeys(e, SET_KEYS, `${path} experiments[${i}]`);
      const protocols = Array.isArray(e.protocols) ? e.protocols.map(String).join(',') : String(e.protocols ?? '');
      if (!Array.isArray(e.models) || e.models.length === 0) throw new Error(`${path}: experiments[${i}].models must be a non-empty list of model names`);
      return { protocols: parseProtocols(protocols), models: e.models.map(String), ...(Array.isArray(e.steps) ? { steps: e.steps.map(Number) } : {}) };
    });
  }
  return raw as PartialStudy;
}

/** Throws "<where><option> must be ..., got <value>" for a value its TRAIN_OPTIONS entry refuses; lr may be one per model ("<where>lr.<model>"). */
function checkRecipe(recipe: Partial<Recipe>, where = 'recipe '): void {
  const { lr, ...rest } = recipe;
  checkOptions(rest, where);
  if (typeof lr === 'object' && lr !== null) for (const [model, x] of Object.entries(lr)) checkOptions({ lr: x }, `${where}lr.${model}: `);
  else checkOptions({ lr }, where);
}

/** Defaults <- config file <- flags (later wins; undefined values do not override). */
export function mergeStudy(...parts: PartialStudy[]): StudyConfig {
  const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  let recipe: Recipe = { ...DEFAULT_STUDY.recipe };
  let merged: Record<string, unknown> = { ...DEFAULT_STUDY };
  for (const p of parts) {
    const { recipe: r, ...rest } = p;
    merged = { ...merged, ...defined(rest) };
    if (r) recipe = { ...recipe, ...defined(r) };
  }
  const cfg = { ...merged, recipe } as StudyConfig;
  if (cfg.folds !== undefined) {
    if (!Number.isInteger(cfg.folds) || cfg.folds < 2) throw new Error(`folds must be an integer of at least 2, got ${JSON.stringify(cfg.folds)}`);
    // folds win over runs given before them (a config's runs, a --folds flag); runs given with or after folds is a contradiction
    const last = (key: 'runs' | 'folds'): number => parts.reduce((at, p, i) => (p[key] !== undefined ? i : at), -1);
    if (last('runs') >= last('folds') && cfg.runs !== cfg.folds)
      throw new Error(`runs (${cfg.runs}) and folds (${cfg.folds}) cannot go together: with folds, run k is fold k; drop runs`);
    cfg.runs = cfg.folds;
  }
  if (!cfg.experiments || cfg.experiments.length === 0) throw new Error('the study has no experiments: give --protocol and --models, or a config with "experiments"');
  if (!cfg.target) throw new Error('the study needs a target dataset: --target (or "target" in the config)');
  if (!cfg.out) throw new Error('the study needs an output folder: --out (or "out" in the config)');
  if (!(cfg.lora.rank >= 1) || !Number.isInteger(cfg.lora.rank)) throw new Error(`LoRA rank must be a positive integer, got ${cfg.lora.rank}`);
  if (!(cfg.lora.alpha > 0)) throw new Error(`LoRA alpha must be positive, got ${cfg.lora.alpha}`);
  checkRecipe(cfg.recipe);
  return cfg;
}
