// The study plan: protocols x models x runs expanded into training units, each protocol
// by its row's `expand` (protocols.ts). The `+` model of a (model, run) is trained once
// and reused by `++`, SWFT and LoRA; SWFT step 1 and LoRA step 1 are the `++` recipe
// (head only, no adapters), so they share its run folder.
import { mixSeed } from '../util/rng.js';
import { protocolRow, type Expansion, type UnitRecipe } from './protocols.js';
import type { StudyConfig } from './study-config.js';
import type { PlanEntry, Stage } from './types.js';

/** One training run to do; several plan entries (report rows) may point at one unit. */
export interface Unit extends UnitRecipe {
  /** run folder relative to the study folder; also the unit's identity */
  dir: string;
  model: string;
  run: number;
  seed: number;
  /** with folds: the target fold this run is tested on (= run); absent otherwise */
  fold?: number;
}

export interface Plan {
  units: Unit[];
  entries: PlanEntry[];
}

export function runSeed(base: number, run: number): number {
  return mixSeed(base, run);
}

/** Expands the experiments into units (deduplicated, dependencies first) and report entries. */
export function planStudy(cfg: Pick<StudyConfig, 'experiments' | 'runs' | 'seed' | 'folds'>, groupsOf: (model: string) => string[]): Plan {
  if (!Number.isInteger(cfg.runs) || cfg.runs < 1) throw new Error(`runs must be a positive integer, got ${cfg.runs}`);
  if (cfg.folds !== undefined && cfg.folds !== cfg.runs) throw new Error(`with folds, runs is the number of folds: got runs ${cfg.runs}, folds ${cfg.folds}`);
  const folded = cfg.folds !== undefined;
  const units = new Map<string, Unit>();
  const entries: PlanEntry[] = [];
  const add = (u: Unit): string => {
    if (!units.has(u.dir)) units.set(u.dir, u);
    return u.dir;
  };
  for (const set of cfg.experiments) {
    for (const model of set.models) {
      const groups = groupsOf(model);
      const steps = set.steps ?? groups.map((_, i) => i + 1);
      for (const k of steps)
        if (!Number.isInteger(k) || k < 1 || k > groups.length)
          throw new Error(`step ${k} does not exist for ${model}: steps run from 1 to ${groups.length} (${groups.join(', ')})`);
      for (let run = 1; run <= cfg.runs; run++) {
        const seed = runSeed(cfg.seed, run);
        const at = folded ? { folder: `fold-${run}`, fold: { fold: run } } : { folder: `run-${run}`, fold: {} };
        const x: Expansion = {
          model,
          groups,
          steps,
          unit: (name, recipe) => add({ model, run, seed, ...at.fold, dir: `runs/${model}/${at.folder}/${name}`, ...recipe }),
          entry: (stage, dir, step) => entries.push({ stage: stage as Stage, model, run, seed, ...at.fold, dir, ...(step !== undefined ? { step } : {}) }),
        };
        for (const protocol of set.protocols) protocolRow(protocol).expand(x);
      }
    }
  }
  // dependencies first: every + model before the target runs that start from it
  const ordered = [...units.values()].sort((a, b) => Number(b.domain === 'intermediate') - Number(a.domain === 'intermediate'));
  return { units: ordered, entries };
}
